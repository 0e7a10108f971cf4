import { DockerError } from '../../src/index.js';

/** The DockerError a promise rejects with (anything else, or success, fails the test). */
export async function failure(p: Promise<unknown>): Promise<DockerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DockerError) return e;
    throw e;
  }
  throw new Error('expected a DockerError');
}
