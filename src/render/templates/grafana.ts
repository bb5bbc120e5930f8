import { z } from 'zod';

/**
 * Grafana dashboard templates (`templates/grafana/provisioning/dashboards/sting-ce/<uid>.yml`)
 * are Grafana's dashboard JSON model written as YAML. Checked here what Grafana would otherwise
 * take silently and show wrong: a panel on a data source msting does not provision, two panels
 * on one place of the grid, a panel that runs off it.
 */

/** A dashboard template msting cannot provision as written; `path` is its key path. */
export class DashboardTemplateError extends Error {
  constructor(
    readonly path: (string | number)[],
    detail: string,
  ) {
    super(detail);
  }
}

/** Grafana's dashboard grid is 24 columns wide. */
const GRID_COLUMNS = 24;

/** The one data source templates/grafana/provisioning/datasources/loki.yml provisions. */
const loki = z.strictObject({ type: z.literal('loki'), uid: z.literal('loki') });

const gridPos = z.strictObject({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  w: z.number().int().min(1).max(GRID_COLUMNS),
  h: z.number().int().min(1),
});

// Loose objects: a panel may carry any of Grafana's other keys (options, fieldConfig, ...).
const panel = z.looseObject({
  id: z.number().int().positive(),
  type: z.string().min(1),
  title: z.string().min(1),
  datasource: loki,
  gridPos,
  targets: z.array(z.looseObject({ refId: z.string().min(1), datasource: loki, expr: z.string().min(1) })).min(1),
});

const dashboard = z.looseObject({ uid: z.string(), title: z.string().min(1), panels: z.array(panel).min(1) });

type GridPos = z.infer<typeof gridPos>;

function overlaps(a: GridPos, b: GridPos): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Checks a dashboard template's data (placeholders not yet filled): its uid is `uid` (the file's
 * name, which compose/grafana.yml lists), every panel and query reads the provisioned Loki, panel
 * ids are unique, and every panel lies within the grid's 24 columns without overlapping another.
 */
export function checkDashboard(value: unknown, uid: string): void {
  const result = dashboard.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new DashboardTemplateError(issue.path.map(String), issue.message);
  }
  const { panels } = result.data;
  if (result.data.uid !== uid) throw new DashboardTemplateError(['uid'], `is ${result.data.uid}: a dashboard's uid is its file's name, ${uid}`);
  panels.forEach((p, i) => {
    const twin = panels.findIndex((other) => other.id === p.id);
    if (twin !== i) throw new DashboardTemplateError(['panels', i, 'id'], `${p.id} is also the id of panels.${twin} (${panels[twin]!.title})`);
    const { x, w } = p.gridPos;
    if (x + w > GRID_COLUMNS) throw new DashboardTemplateError(['panels', i, 'gridPos'], `x + w is ${x + w}: Grafana's grid is ${GRID_COLUMNS} columns wide`);
    const under = panels.findIndex((other) => overlaps(other.gridPos, p.gridPos));
    if (under !== i) throw new DashboardTemplateError(['panels', i, 'gridPos'], `overlaps panels.${under} (${panels[under]!.title})`);
  });
}
