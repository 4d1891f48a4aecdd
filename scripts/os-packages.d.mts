export declare const OS_PACKAGES: { pkg: string; what: string; present: () => boolean }[];
export declare function missingOsPackages(): string[];
export declare function osPackagesProblem(): string | undefined;
