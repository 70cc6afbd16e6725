import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { loadServerConfig } from '../config/server-config.js';
import { InputError } from '../model/errors.js';
import type { SideSpec } from '../insight/compare-sides.js';
import { parseSide } from '../insight/compare-sides.js';
import type { RedactPolicy } from '../insight/redact.js';
import { Redactor, redactSummary } from '../insight/redact.js';
import { defaultKeyFile, loadKey } from '../insight/redact-key.js';
import { loadMapping, reveal, saveMapping } from '../insight/redact-reveal.js';
import type { SummariesConfig } from '../insight/summary-config.js';
import { compilePattern, DEFAULT_SUMMARIES } from '../insight/summary-config.js';
import { askLlm, DEFAULT_QUESTION } from '../insight/summary-llm.js';
import type { SummaryFormat } from '../insight/summary-render.js';
import { fitSummary } from '../insight/summary-render.js';
import type { SummarySource } from '../insight/summary-source.js';
import { deriveMapping, loadSummary } from '../insight/summary-source.js';
import { action, clientFrom, out, withServerOptions } from './common.js';
import { rangeFrom, withRangeOptions } from './range.js';

interface SummarizeFlags {
  url: string;
  tenant?: string;
  from: string;
  until: string;
  diffBase?: string;
  type?: string;
  format: SummaryFormat;
  maxTokens?: string;
  redact: boolean;
  redactKeyFile?: string;
  redactPattern: string[];
  redactMode?: 'allow-list' | 'patterns';
  allow: string[];
  config?: string;
  mappingOut?: string;
  reveal?: string | boolean;
  mapping?: string;
  llmUrl?: string;
  llmModel: string;
  llmApiKeyEnv: string;
  question: string;
}

const collect = (v: string, all: string[]) => [...all, v];

/** The config file's `summaries:` section, then the flags on top of it. */
function settings(o: SummarizeFlags): { cfg: SummariesConfig; policy: RedactPolicy } {
  const cfg = (o.config ? loadServerConfig(o.config).summaries : undefined) ?? DEFAULT_SUMMARIES;
  const patterns = [...cfg.policy.patterns, ...o.redactPattern.map((p, i) => compilePattern(p, `--redact-pattern #${i + 1}`))];
  const mode = o.redactMode ?? cfg.policy.mode;
  if (mode === 'patterns' && patterns.length === 0) throw new InputError('--redact-mode patterns needs at least one --redact-pattern (or summaries.redact.patterns in --config)');
  return { cfg, policy: { ...cfg.policy, mode, patterns, allowFunctions: [...cfg.policy.allowFunctions, ...o.allow] } };
}

async function key(o: SummarizeFlags, cfg: SummariesConfig): Promise<Uint8Array> {
  const file = o.redactKeyFile ?? cfg.keyFile ?? defaultKeyFile();
  // Only the default key is made on first use: a named file that is missing is a typo, not a wish.
  const { key, created } = await loadKey(file, file === defaultKeyFile());
  if (created) process.stderr.write(`kiln: created redaction key ${file} (keep it: it turns pseudonyms back into names)\n`);
  return key;
}

async function source(target: string | undefined, o: SummarizeFlags): Promise<SummarySource> {
  if (!target) throw new InputError('give what to summarize: a selector (with --from/--until) or profile files');
  const dflt = rangeFrom(o);
  const spec: SideSpec = await parseSide(target, dflt);
  const base = o.diffBase ? await parseSide(o.diffBase, dflt) : undefined;
  const client = clientFrom(o);
  return loadSummary({ target: spec, base, type: o.type }, (path, params) => client.getBytes(path, params));
}

async function revealCommand(target: string | undefined, o: SummarizeFlags): Promise<void> {
  const text = typeof o.reveal === 'string' ? await readFile(o.reveal, 'utf8') : await readStdin();
  let mapping: Map<string, string>;
  if (o.mapping) mapping = await loadMapping(o.mapping);
  else if (target) mapping = deriveMapping(await key(o, settings(o).cfg), await source(target, o));
  else throw new InputError('--reveal needs --mapping FILE (saved with --mapping-out), or the profile to re-derive names from (a selector or files, with the key)');
  const r = reveal(text, mapping);
  if (r.unknown.length > 0) process.stderr.write(`kiln: ${r.unknown.length} pseudonym(s) not in the mapping, left as they are: ${r.unknown.slice(0, 5).join(', ')}${r.unknown.length > 5 ? ', …' : ''}\n`);
  await out(r.text);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new InputError('--reveal reads the text from a file (--reveal FILE) or from stdin; stdin is a terminal');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function summarizeCommand(): Command {
  return withRangeOptions(withServerOptions(new Command('summarize')))
    .description('A compact summary of a profile (hot paths, hottest functions, by binary and package, what changed) within a token budget, with names redacted for an LLM.')
    .argument('[profile]', 'SELECTOR on the server (range from --from/--until or @RANGE), or profile file(s) (comma-separated, or a directory)')
    .option('--diff-base <selector@range|files>', 'also say what changed against this base (significant changes only)')
    .option('--type <profileType>', 'profile type when files hold several (default: CPU, else the first)')
    .addOption(new Option('--format <format>', 'output').choices(['text', 'json']).default('text'))
    .option('--max-tokens <n>', 'token budget (~4 characters each; 0 = no limit) (default: the config\'s, else 2000)')
    .option('--redact', 'replace function, file, binary, package names and label values with stable pseudonyms', false)
    .option('--redact-key-file <file>', `HMAC key of the pseudonyms (default: the config's key_file, else ${defaultKeyFile()}, created on first use)`)
    .option('--redact-pattern <regex>', 'always redact names matching this (RE2, unanchored; repeatable)', collect, [])
    .addOption(new Option('--redact-mode <mode>', 'allow-list: redact all but runtime/library names; patterns: only names matching a pattern').choices(['allow-list', 'patterns']))
    .option('--allow <prefix>', 'keep function names equal to this, or starting with it when it ends in * (repeatable)', collect, [])
    .option('--config <file>', 'read the summaries: section of a kiln.yaml (patterns, allow-list, key_file, max_tokens)')
    .option('--mapping-out <file>', 'save pseudonym → name for --reveal (mode 0600; keep it local)')
    .option('--reveal [file]', 'put names back into redacted text (from FILE or stdin), using --mapping or the profile and key')
    .option('--mapping <file>', 'with --reveal: the mapping saved by --mapping-out')
    .option('--llm-url <url>', 'send the redacted summary to this OpenAI-compatible endpoint and print its answer with names restored')
    .option('--llm-model <model>', 'model name for --llm-url (env KILN_LLM_MODEL)', process.env.KILN_LLM_MODEL ?? 'gpt-4o-mini')
    .option('--llm-api-key-env <var>', 'environment variable holding the API key for --llm-url', 'OPENAI_API_KEY')
    .option('--question <text>', 'what to ask with --llm-url', DEFAULT_QUESTION)
    .addHelpText(
      'after',
      `
Nothing is sent anywhere unless --llm-url is given; what is sent is always redacted.
Examples:
  kiln summarize 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="checkout"}' --from now-1h --redact --mapping-out map.json
  kiln summarize cpu.pb.gz --diff-base main-cpu.pb.gz --redact --max-tokens 800
  kiln summarize '…{service_name="checkout"}' --llm-url http://localhost:11434/v1 --llm-model llama3.1
  kiln summarize --reveal answer.txt --mapping map.json
See docs/SUMMARIES.md.`,
    )
    .action(
      action(async (target: string | undefined, o: SummarizeFlags) => {
        if (o.reveal !== undefined && o.reveal !== false) return revealCommand(target, o);
        const { cfg, policy } = settings(o);
        const maxTokens = o.maxTokens === undefined ? cfg.maxTokens : Number(o.maxTokens);
        if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InputError(`--max-tokens ${o.maxTokens}: give a whole number (0 = no limit)`);
        const redact = o.redact || o.llmUrl !== undefined; // what goes to an LLM is always redacted
        const redactor = redact ? new Redactor(await key(o, cfg), policy) : undefined;
        const src = await source(target, o);
        const summary = redactor ? redactSummary(src.summary, redactor) : src.summary;
        const text = fitSummary(summary, o.format, maxTokens);
        if (o.mappingOut) {
          if (!redactor) throw new InputError('--mapping-out needs --redact');
          await saveMapping(o.mappingOut, redactor.mapping);
        }
        if (!o.llmUrl) return out(text);
        process.stderr.write(`kiln: sending the redacted summary (${text.length} characters) to ${o.llmUrl}\n`);
        const answer = await askLlm({ url: o.llmUrl, model: o.llmModel, apiKey: process.env[o.llmApiKeyEnv], question: o.question, summary: text });
        await out(reveal(answer, redactor!.mapping).text);
      }),
    );
}
