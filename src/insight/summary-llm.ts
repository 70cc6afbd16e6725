import { InputError } from '../model/errors.js';

/**
 * Asks any OpenAI-compatible chat endpoint (OpenAI, Azure OpenAI, vLLM, llama.cpp's server, Ollama's
 * /v1, LiteLLM …) about a summary. Only the text handed in is sent — `kiln summarize` hands in the
 * redacted summary and puts names back into the answer locally — and nothing is sent unless the user
 * gave `--llm-url`.
 */
export interface LlmRequest {
  /** Base URL (`http://localhost:11434/v1`) or the full `…/chat/completions` URL. */
  readonly url: string;
  readonly model: string;
  readonly apiKey?: string;
  readonly question: string;
  readonly summary: string;
  readonly timeoutMs?: number;
}

export const DEFAULT_QUESTION = 'Where does this program spend its time, what is unusual, and what would you look at first to make it cheaper?';

/** Tells the model what the pseudonyms are, so it quotes them exactly (they are put back afterwards). */
export const SYSTEM_PROMPT =
  'You are a performance engineer reading a CPU/memory profile summary. Names such as fn_0123456789, ' +
  'pkg_…, bin_…, file_… and label_… are pseudonyms for private names: refer to them exactly as written ' +
  'and do not guess what they stand for. Be concrete and brief.';

export function chatCompletionsUrl(url: string): string {
  const u = url.replace(/\/+$/, '');
  return /\/chat\/completions$/.test(u) ? u : `${u}/chat/completions`;
}

export async function askLlm(req: LlmRequest): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (req.apiKey) headers['authorization'] = `Bearer ${req.apiKey}`;
  const body = {
    model: req.model,
    temperature: 0.2,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: `${req.question}\n\n${req.summary}` },
    ],
  };
  const target = chatCompletionsUrl(req.url);
  let res: Response;
  try {
    res = await fetch(target, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(req.timeoutMs ?? 120_000) });
  } catch (e) {
    throw new Error(`cannot reach the LLM at ${target}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (res.status >= 400 && res.status < 500) throw new InputError(`the LLM at ${target} refused the request (${res.status}): ${text.slice(0, 300)}`);
  if (!res.ok) throw new Error(`the LLM at ${target} failed (${res.status}): ${text.slice(0, 300)}`);
  let answer: unknown;
  try {
    answer = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
  } catch {
    answer = undefined;
  }
  if (typeof answer !== 'string') throw new Error(`the LLM at ${target} answered without choices[0].message.content: ${text.slice(0, 300)}`);
  return answer;
}
