declare module '@echogarden/espeak-ng-emscripten' {
  const initialise: () => Promise<{ eSpeakNGWorker: new () => unknown }>;
  export default initialise;
}
