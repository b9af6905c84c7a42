// The profile view: one inference pass of a model on this browser's GPU, every kernel timed, as the rows and
// columns `tokenwave profile` prints, with the roofline picture and the Chrome trace.
import * as tokenwave from '../src/browser.js';

interface ProfileViews {
  header: HTMLElement;
  table: HTMLTableElement;
  roofline: HTMLElement;
  trace: HTMLAnchorElement;
}

/** Rows shown before the rest are summed into one. */
const TOP_ROWS = 30;

export async function showProfile(config: tokenwave.ModelConfig, batch: number, views: ProfileViews): Promise<void> {
  views.header.textContent = `profiling ${config.name} at batch ${batch} ...`;
  const p = await tokenwave.profileModel(config, { train: false, batch, steps: 5, warmup: 2 });
  views.header.textContent = `measuring this adapter's peaks for the roofline (once; kept in this browser) ...`;
  const peaks = await tokenwave.machinePeaks();
  const { records, wallMs, kernelMs } = tokenwave.medianStep(p.steps);
  const rows = tokenwave.groupRecords(records, 'kernel', 1, wallMs, peaks);
  const title = `${config.name}, inference, batch ${batch}`;
  const resolution = p.timestampResolutionNs === undefined ? '' : `, timestamp resolution ${p.timestampResolutionNs} ns`;
  views.header.textContent = [
    `${title}: ${p.parameters.toLocaleString('en')} parameters`,
    `adapter: ${p.adapter} | ${p.backend} | ${p.kernelVariants} kernel variants | timed by ${p.method}${resolution}`,
    `step: ${wallMs.toFixed(2)} ms measured (wall); ${kernelMs.toFixed(2)} ms in kernels; ${records.length} dispatches; ` +
      `JavaScript ${p.encodeMs.toFixed(2)} ms a pass (${p.plannedEncodeMs.toFixed(2)} ms planned)`,
    `peaks: ${peaks.gflops.toFixed(1)} GFLOP/s, ${peaks.gbps.toFixed(1)} GB/s`,
    ...(p.method === 'timestamps' ? [] : ['this adapter offers no timestamp-query: each kernel was replayed alone and timed around its submit (coarser; overheads included)']),
  ].join('\n');
  const [head, ...body] = tokenwave.profileTable(rows, TOP_ROWS);
  views.table.replaceChildren();
  const headRow = views.table.createTHead().insertRow();
  for (const cell of head!) headRow.appendChild(Object.assign(document.createElement('th'), { textContent: cell }));
  const tbody = views.table.createTBody();
  for (const line of body) {
    const row = tbody.insertRow();
    for (const cell of line) row.insertCell().textContent = cell;
  }
  views.table.hidden = false;
  views.roofline.innerHTML = tokenwave.rooflineSvg(rows, peaks, `${title}: roofline (${p.adapter.split(' - ')[0]})`);
  if (views.trace.href) URL.revokeObjectURL(views.trace.href);
  views.trace.href = URL.createObjectURL(new Blob([JSON.stringify(tokenwave.chromeTrace(p.steps, `tokenwave profile: ${title}`))], { type: 'application/json' }));
  views.trace.hidden = false;
}
