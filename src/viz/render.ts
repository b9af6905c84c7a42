// SVG pictures to PNG, for viewers and documents that take no SVG (resvg, a Rust SVG renderer; text in the system's
// fonts, DejaVu Sans first).
import { Resvg } from '@resvg/resvg-js';

export function svgToPng(svg: string, width?: number): Uint8Array {
  const resvg = new Resvg(svg, {
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    ...(width ? { fitTo: { mode: 'width' as const, value: width } } : {}),
  });
  return resvg.render().asPng();
}
