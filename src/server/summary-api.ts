import type { FastifyInstance } from 'fastify';
import { InputError } from '../model/errors.js';
import { loadKey } from '../insight/redact-key.js';
import { Redactor, redactSummary } from '../insight/redact.js';
import { DEFAULT_SUMMARIES } from '../insight/summary-config.js';
import { fitSummary, parseSummaryFormat } from '../insight/summary-render.js';
import { summarizeSelection } from '../insight/summary-query.js';
import type { ServerContext } from './context.js';
import { boolParam, httpRead, intParam, param, selectionFrom } from './http-query.js';
import type { QueryParams } from './http-query.js';

/**
 * `GET /api/v1/summary`: a compact description of a selection for a reader with little room (an LLM),
 * src/insight/summary.ts. Parameters: `query`, `from`, `until`; optional `diff_base_query`,
 * `diff_base_from`, `diff_base_until` (what changed against that base); `redact=true` (names replaced by
 * pseudonyms under the key and rules of the config's `summaries:` section — the mapping never leaves the
 * server); `max_tokens` (0 = no cut; default from the config); `format` text or json.
 * Documented in docs/SUMMARIES.md.
 */
export function registerSummaryApi(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/summary', async (req, reply) =>
    httpRead(ctx, 'api.summary', reply, async (signal) => {
      const params = req.query as QueryParams;
      const cfg = ctx.config?.().summaries ?? DEFAULT_SUMMARIES;
      const format = parseSummaryFormat(param(params, 'format') ?? 'text');
      const maxTokens = intParam(params, 'max_tokens', cfg.maxTokens, 1_000_000);
      const redact = boolParam(params, 'redact');
      // Checked before any read: a redacted summary the server cannot make must not cost a merge first.
      if (redact && !cfg.keyFile) throw new InputError('this server has no redaction key: set summaries.redact.key_file in its config, or redact locally with `kiln summarize --redact`');
      const { q } = selectionFrom(req, signal);
      const base = param(params, 'diff_base_query') ? selectionFrom(req, signal, 'diff_base_').q : undefined;
      if (base && base.selector.profileType !== q.selector.profileType) {
        throw new InputError(`cannot compare different profile types: base is ${base.selector.profileType}, the selection is ${q.selector.profileType}`);
      }
      let summary = await summarizeSelection(ctx.query, q, base);
      if (redact) summary = redactSummary(summary, new Redactor((await loadKey(cfg.keyFile!)).key, cfg.policy));
      const body = fitSummary(summary, format, maxTokens);
      return reply.type(format === 'json' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8').send(body);
    }),
  );
}
