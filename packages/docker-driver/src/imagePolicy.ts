import { DockerError, type DockerErrorCode } from './DockerError.js';
import { LABELS, type Labels } from './types.js';

/**
 * An image built for one org (it carries `cloud.cynchro.org-id`, which every build sets from its labels) is run, and
 * built upon, only for that org: `forLabels` (a container's or a build's labels) must carry the same org. Images
 * without the label (public images) are anyone's. The other org is never named in the message.
 */
export function checkImageOrg(imageLabels: Labels | null | undefined, forLabels: Labels, what: string, code: DockerErrorCode = 'invalid_ref'): void {
  const owner = imageLabels?.[LABELS.org];
  if (owner === undefined || owner === '') return;
  if (forLabels[LABELS.org] !== owner) throw new DockerError(code, `${what} was built for another org and cannot be used here`);
}
