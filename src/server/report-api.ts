import type { FastifyInstance } from 'fastify';
import { InputError } from '../model/errors.js';
import { buildTeamReport } from '../insight/report.js';
import { reportHtml } from '../insight/report-html.js';
import { reportMarkdown } from '../insight/report-markdown.js';
import type { ServerContext } from './context.js';
import { httpRead, intParam, param } from './http-query.js';
import type { QueryParams } from './http-query.js';
import { scopeFrom } from './overview-api.js';

/**
 * `GET /api/v1/report?team=payments&from=now-7d`: a team's report (src/insight/report.ts) as JSON —
 * what `kiln report` renders — or, with `format=html|markdown`, rendered here with links back to this
 * server (or to `ui_url`), so a browser or curl gets the page directly.
 */
export function registerReportApi(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/report', async (req, reply) =>
    httpRead(ctx, 'api.report', reply, async (signal) => {
      const params = req.query as QueryParams;
      const scope = scopeFrom(req, 'now-7d');
      if (!scope.team) throw new InputError('missing "team" parameter (the team to report on, e.g. team=payments)');
      if (scope.matchers.length > 1) throw new InputError('a report covers a whole team: give "team" without "query"');
      const format = param(params, 'format') ?? 'json';
      if (format !== 'json' && format !== 'html' && format !== 'markdown') throw new InputError(`unknown format "${format.slice(0, 40)}": use json, html or markdown`);
      const report = await buildTeamReport(
        ctx.query,
        { tenant: scope.tenant, team: scope.team, profileType: scope.profileType, range: scope.range, top: intParam(params, 'top', 20, 1000) || 20, signal },
        ctx.config?.().cost,
      );
      if (format === 'json') return report;
      const base = param(params, 'ui_url') ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`;
      if (format === 'html') return reply.type('text/html; charset=utf-8').send(reportHtml(report, base));
      return reply.type('text/markdown; charset=utf-8').send(reportMarkdown(report, base));
    }),
  );
}
