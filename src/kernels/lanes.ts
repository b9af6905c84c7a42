// How a row-wise kernel spreads its rows: a row per invocation, a row per workgroup (its lanes' parts meeting in
// a tree in workgroup memory: shaders/rows_by_workgroup.wgsl) or a row per subgroup (subgroupAdd and subgroupMax:
// shaders/rows_by_subgroup.wgsl). LayerNorm's forward pass and the softmax are tuner families over these.
import type { KernelSpec, Launch } from './launch.js';

export type LaneVariant = 'row' | 'workgroup' | 'subgroup';

/** Invocations per workgroup of the subgroup variant: WG / (subgroup size) rows each. */
const SUBGROUP_WORKGROUP = 64;

/** Lanes of the workgroup-per-row variant: the largest power of two (its tree's) up to 64 that gives every lane a
 * value (a row of 128: 64 lanes of 2 values; of 16: 16 lanes). */
const rowWorkgroup = (n: number) => Math.min(64, 2 ** Math.floor(Math.log2(n)));

/** The variants a device can run: the subgroup one where its subgroups have one fixed size that divides the
 * workgroup (so a row's reduction, and its count of operations, is known). */
export function laneCandidates(subgroupSize: number | undefined): LaneVariant[] {
  return ['row', 'workgroup', ...(subgroupSize !== undefined && SUBGROUP_WORKGROUP % subgroupSize === 0 ? (['subgroup'] as const) : [])];
}

export interface LaneLayout {
  /** Lanes a row's reduction meets across (0: one invocation a row). */
  lanes: number;
  /** The kernel declaration's part: entry point, workgroup size, features, the shader constants of the variant. */
  spec: Pick<KernelSpec, 'entry' | 'workgroupSize' | 'enables'>;
  constants: { ROWS_PER_GROUP: number };
  work: Pick<Launch, 'invocations' | 'workgroups'>;
}

/** The layout of `rows` rows of n under `variant` (subgroupSize: the device's, for the subgroup variant). */
export function laneLayout(variant: LaneVariant, rows: number, n: number, subgroupSize: number | undefined): LaneLayout {
  if (variant === 'row') return { lanes: 0, spec: {}, constants: { ROWS_PER_GROUP: 1 }, work: { invocations: rows } };
  if (variant === 'workgroup') {
    const lanes = rowWorkgroup(n);
    return { lanes, spec: { entry: 'workgroup', workgroupSize: lanes }, constants: { ROWS_PER_GROUP: 1 }, work: { workgroups: rows } };
  }
  const lanes = subgroupSize!;
  const perGroup = SUBGROUP_WORKGROUP / lanes;
  return {
    lanes,
    spec: { entry: 'workgroup', workgroupSize: SUBGROUP_WORKGROUP, enables: ['subgroups'] },
    constants: { ROWS_PER_GROUP: perGroup },
    work: { workgroups: Math.ceil(rows / perGroup) },
  };
}
