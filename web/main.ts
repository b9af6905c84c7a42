// The page: a checkpoint trained in Node, opened from its two files, classifies WAV files and the microphone;
// the profile view times every kernel of an inference pass on this browser's GPU. The engine is the same code
// as in Node (src/browser.ts): only where the GPU, the shaders and the caches come from differs.
import * as tokenwave from '../src/browser.js';
import { Listener, type LiveAnswer } from './listen.js';
import { showProfile } from './profile-view.js';

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export interface Loaded {
  model: tokenwave.AudioModel;
  classifier: tokenwave.ClipClassifier;
  /** The files it came from, for the page's headings. */
  source: string;
}

let loaded: Loaded | undefined;
let listener: Listener | undefined;
const liveAnswers: LiveAnswer[] = [];

function showError(err: unknown): void {
  const box = element('error');
  box.textContent = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  box.hidden = false;
}

function clearError(): void {
  element('error').hidden = true;
}

/** Runs a user's action, saying what went wrong in the page instead of the console. */
function guarded(action: () => Promise<void>): () => void {
  return () => {
    clearError();
    action().catch(showError);
  };
}

async function openCheckpoint(files: readonly File[]): Promise<void> {
  const configFile = files.find((f) => f.name.endsWith('.json'));
  const weightsFile = files.find((f) => f.name.endsWith('.safetensors'));
  if (!configFile || !weightsFile) {
    throw new tokenwave.CheckpointError(
      `got ${files.map((f) => f.name).join(', ') || 'no files'}: choose both files of one checkpoint folder, config.json and model.safetensors (select them together)`,
    );
  }
  const config = tokenwave.parseCheckpointConfig(await configFile.text(), configFile.name);
  const model = tokenwave.modelFromCheckpoint(config, new Uint8Array(await weightsFile.arrayBuffer()), weightsFile.name);
  loaded?.classifier.dispose();
  loaded?.model.dispose();
  loaded = { model, classifier: new tokenwave.ClipClassifier(model), source: `${configFile.name} + ${weightsFile.name}` };
  const c = model.config;
  element('model-status').textContent =
    `${c.name}: ${model.parameterCount().toLocaleString('en')} parameters, ${c.classes} classes ` +
    `(${c.classNames.join(', ') || 'unnamed'}), clips of ${c.clipSamples} samples at ${c.spectrogram.sampleRate} Hz.`;
  addProfileChoice(c);
}

function requireModel(): Loaded {
  if (!loaded) throw new tokenwave.CheckpointError('open a checkpoint first (its config.json and model.safetensors)');
  return loaded;
}

/** The model's clip from a WAV file's bytes: its rate and length, as `tokenwave predict` prepares it. */
function clipOf(bytes: Uint8Array, file: string, model: tokenwave.AudioModel): Float32Array {
  const { spectrogram, clipSamples } = model.config;
  return tokenwave.prepareClip(tokenwave.decodeWav(bytes, file), spectrogram.sampleRate, clipSamples);
}

const percent = (p: number) => `${(100 * p).toFixed(1)}%`;

async function classifyFiles(files: readonly File[]): Promise<void> {
  const { model, classifier } = requireModel();
  const table = element<HTMLTableElement>('clip-results');
  const body = table.tBodies[0]!;
  body.replaceChildren();
  const clips: Float32Array[] = [];
  for (const file of files) {
    const clip = clipOf(new Uint8Array(await file.arrayBuffer()), file.name, model);
    clips.push(clip);
    const start = performance.now();
    const [prediction] = await classifier.classify([clip], 3);
    const ms = performance.now() - start;
    const row = body.insertRow();
    row.insertCell().textContent = file.name;
    row.insertCell().textContent = prediction!.top.map((t) => `${t.label} ${percent(t.probability)}`).join(', ');
    row.insertCell().textContent = `${ms.toFixed(1)} ms`;
    row.dataset.top = prediction!.top[0]!.label;
  }
  table.hidden = false;
  await explain(files.map((f) => f.name), clips);
}

/** Each TokenLearner's tokens carried back onto the clips' spectrograms (as `tokenwave explain` draws them). */
async function explain(names: readonly string[], clips: readonly Float32Array[]): Promise<void> {
  const { model } = requireModel();
  element('explanation-title').hidden = false;
  const note = element('explanation-note');
  const picture = element('explanation');
  if (model.config.tokens === 0) {
    note.textContent = `${model.config.name} has no TokenLearner: it attends to all its patches, there are no learned tokens to show.`;
    note.hidden = false;
    picture.replaceChildren();
    return;
  }
  note.hidden = true;
  const explained = [];
  for (const [i, clip] of clips.entries()) explained.push({ explanation: await tokenwave.explainClip(model, clip), name: names[i]! });
  picture.innerHTML = tokenwave.explanationSvg(explained);
}

/** The model's logits (before the softmax) for clips at its rate and length: what the browser tests compare with Node's. */
async function logits(clips: readonly number[][]): Promise<number[][]> {
  const { model } = requireModel();
  const { clipSamples, spectrogram } = model.config;
  const data = new Float32Array(clips.length * clipSamples);
  clips.forEach((clip, i) => data.set(clip.slice(0, clipSamples), i * clipSamples));
  const out = tokenwave.noGrad(() =>
    tokenwave.tidy(() => model.forward(tokenwave.spectrogram(tokenwave.Tensor.from(data, [clips.length, clipSamples]), spectrogram), { training: false })),
  );
  const values = await out.data();
  out.dispose();
  const classes = model.config.classes;
  return clips.map((_, i) => Array.from(values.subarray(i * classes, (i + 1) * classes)));
}

async function toggleListening(): Promise<void> {
  const button = element<HTMLButtonElement>('listen');
  if (listener) {
    await listener.stop();
    listener = undefined;
    button.textContent = 'Listen to the microphone';
    return;
  }
  listener = await Listener.start(() => loaded, {
    picture: element('live-spectrogram'),
    top: element('live-top'),
    latency: element('live-latency'),
    onAnswer: (answer) => liveAnswers.push(answer),
    onError: showError,
  });
  button.textContent = 'Stop listening';
}

const profileChoices = new Map<string, tokenwave.ModelConfig>();

function addProfileChoice(config: tokenwave.ModelConfig, label = `${config.name} (the open checkpoint)`): void {
  const select = element<HTMLSelectElement>('profile-model');
  profileChoices.set(label, config);
  const option = new Option(label, label);
  select.add(option, 0);
  select.value = label;
}

function enable(on: boolean): void {
  for (const id of ['checkpoint-files', 'wav-files', 'listen', 'profile']) element<HTMLInputElement>(id).disabled = !on;
}

async function boot(): Promise<void> {
  enable(false);
  try {
    const engine = await tokenwave.init();
    const r = engine.runtime;
    element('adapter').textContent =
      `WebGPU adapter: ${r.adapterName} (${r.software ? 'software, ' : ''}${r.featureLevel} feature level; ` +
      `features: ${r.features.join(', ') || 'none'}; ${r.kernelVariants} kernel variants)`;
  } catch (err) {
    element('adapter').textContent = 'No WebGPU here: the page cannot run.';
    showError(err);
    return;
  }
  for (const name of tokenwave.EXAMPLE_NAMES) addProfileChoice(tokenwave.modelConfig(name), name);
  element<HTMLSelectElement>('profile-model').value = tokenwave.EXAMPLE_NAMES[0]!;
  enable(true);

  const checkpointInput = element<HTMLInputElement>('checkpoint-files');
  checkpointInput.addEventListener('change', guarded(() => openCheckpoint([...(checkpointInput.files ?? [])])));
  const drop = element('checkpoint-drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    guarded(() => openCheckpoint([...(event.dataTransfer?.files ?? [])]))();
  });
  const wavInput = element<HTMLInputElement>('wav-files');
  wavInput.addEventListener('change', guarded(() => classifyFiles([...(wavInput.files ?? [])])));
  element('listen').addEventListener('click', guarded(toggleListening));
  element('profile').addEventListener(
    'click',
    guarded(async () => {
      const button = element<HTMLButtonElement>('profile');
      button.disabled = true;
      try {
        const batch = Number(element<HTMLInputElement>('profile-batch').value);
        if (!Number.isInteger(batch) || batch < 1) throw new tokenwave.TokenwaveError(`batch ${element<HTMLInputElement>('profile-batch').value}: give a whole number of clips, 1 or more`);
        await showProfile(profileChoices.get(element<HTMLSelectElement>('profile-model').value)!, batch, {
          header: element('profile-header'),
          table: element<HTMLTableElement>('profile-table'),
          roofline: element('roofline'),
          trace: element<HTMLAnchorElement>('trace-download'),
        });
      } finally {
        button.disabled = false;
      }
    }),
  );
}

// For the browser tests and for anyone at the console: the engine's API and the page's state.
const page = { api: tokenwave, logits, liveAnswers, ready: boot(), loadedModel: () => loaded?.model.config.name };
(window as unknown as { tokenwavePage: typeof page }).tokenwavePage = page;
