// TensorFlow.js ships its gradient registrations only as ES modules written for bundlers (extensionless and
// directory imports), which Node's ES module loader refuses. This resolve hook retries such imports with '.js'
// and '/index.js', so the benchmark can load them (they register into TF.js's global gradient registry).
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (!specifier.startsWith('.') || !['ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_MODULE_NOT_FOUND'].includes(err.code)) throw err;
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await next(specifier + suffix, context);
      } catch {
        // try the next form
      }
    }
    throw err;
  }
}
