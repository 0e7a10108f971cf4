// Types of scripts/build.mjs for the TypeScript that imports it (vitest global setups).
export declare const PACKAGES: { name: string; deps: string[]; steps: string[][] }[];
export declare function inputDigest(pkgDir: string): string;
export declare function build(options?: { ifStale?: boolean; only?: string[]; tolerateTypeErrors?: boolean; log?: (message: string) => void }): Promise<string[]>;
