// Every differentiable op, for `import { ops } from 'tokenwave'`.
export * from './elementwise.js';
export * from './reduce.js';
export * from './layout.js';
export * from './matmul.js';
export * from './conv.js';
export * from './softmax.js';
export * from './norm.js';
export * from './dropout.js';
export * from './attention.js';
export { backward, zeroGrad } from './autograd.js';
