/**
 * Renders a Vega-Lite spec to an SVG string on the server: compiled by vega-lite to Vega, then drawn
 * by a headless vega View (`renderer: 'none'`, so no DOM or canvas is needed). The SVG is standalone
 * (fonts by name, no external resources), so the report can inline it.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Font stack of every chart: DejaVu Sans is what Debian ships with Chromium. */
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/**
 * The SVG of a chart.
 * @throws Error from vega-lite or vega when the spec is invalid.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const withConfig = {
    ...spec,
    config: { font: FONT, background: 'white', ...(spec.config ?? {}) },
  } as TopLevelSpec;
  const compiled = compile(withConfig).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
