declare module '@echogarden/espeak-ng-emscripten' {
  const initialise: (options?: { getPreloadedPackage?: (name: string, size: number) => ArrayBuffer }) => Promise<{ eSpeakNGWorker: new () => unknown }>;
  export default initialise;
}
