import { InputError } from '../model/errors.js';
import type { Matcher, Selector } from '../model/matcher.js';
import { formatMatchers, parseMatchers } from '../query/selector.js';
import { Section } from './yaml-section.js';

/**
 * Ownership: which team a series belongs to. Two sources, one label name:
 *
 *   teams:                                  # kiln.yaml: a team is a set of label matchers
 *     payments: '{namespace=~"payments-.*"}'
 *     search:   '{namespace="search", service_name!="search-batch"}'
 *
 * or a `team` label on the series themselves (the agent copies a pod's `team` label or annotation).
 * Either way a selector says `{team="payments"}`. A team named in the config is expanded into its
 * matchers before the store is read (expandTeams, applied to every read by teams-store.ts); a name the
 * config does not know is left alone and matches the series' own `team` label. The config wins when
 * both name a team: it is what the operator wrote on purpose.
 */
export const TEAM_LABEL = 'team';

/** Team name → the matchers selecting its series (ANDed, as in a selector). */
export type Teams = ReadonlyMap<string, readonly Matcher[]>;

export const NO_TEAMS: Teams = new Map();

/** The `teams:` section: a mapping of team name to a `{…}` selector; an InputError names file and key. */
export function teamsSection(v: unknown, file: string): Teams {
  const entries = Section.of({ teams: v }, file, '').stringMap('teams');
  const teams = new Map<string, readonly Matcher[]>();
  for (const [name, text] of Object.entries(entries)) {
    const where = `${file}: teams.${name}`;
    if (name.trim() === '') throw new InputError(`${file}: teams: a team name is empty`);
    let matchers: Matcher[];
    try {
      matchers = parseMatchers(text);
    } catch (e) {
      throw new InputError(`${where}: ${(e as Error).message}`);
    }
    // `{}` would make the team own every series of the tenant: surely a mistake, never a choice.
    if (matchers.length === 0) throw new InputError(`${where}: "${text}" selects every series; give the team's matchers, e.g. '{namespace=~"${name}-.*"}'`);
    teams.set(name, matchers);
  }
  return teams;
}

/**
 * A selector with every `team="<configured team>"` replaced by that team's matchers. Without configured
 * teams `team` is an ordinary label and the selector is returned as is (the same object, so callers
 * can tell nothing changed). With them, only `team="name"` is accepted: a pattern or a negation over
 * teams would be a union or a complement of matcher sets, which one selector cannot say.
 */
export function expandTeams(selector: Selector, teams: Teams): Selector {
  if (teams.size === 0 || !selector.matchers.some((m) => m.name === TEAM_LABEL)) return selector;
  const out: Matcher[] = [];
  for (const m of selector.matchers) {
    if (m.name !== TEAM_LABEL) {
      out.push(m);
      continue;
    }
    if (m.op !== '=') {
      throw new InputError(
        `${TEAM_LABEL}${m.op}${JSON.stringify(m.value)}: teams come from the server config, so select one with ${TEAM_LABEL}="name" (known: ${[...teams.keys()].join(', ')})`,
      );
    }
    const own = teams.get(m.value);
    if (own) out.push(...own);
    else out.push(m);
  }
  return { profileType: selector.profileType, matchers: out };
}

/** `{namespace=~"payments-.*"}` — a team's matchers as written in a selector, for reports and logs. */
export function teamSelectorText(teams: Teams, team: string): string {
  const own = teams.get(team);
  return own ? formatMatchers(own) : formatMatchers([{ name: TEAM_LABEL, op: '=', value: team }]);
}

/** The matcher that selects a team, whichever source defines it (expanded later, on read). */
export function teamMatcher(team: string): Matcher {
  return { name: TEAM_LABEL, op: '=', value: team };
}
