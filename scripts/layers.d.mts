export function layerOf(path: string): { name: string; rank: number } | undefined;
export function importProblem(from: string, to: string): string | undefined;
export function checkLayers(root: string): string[];
