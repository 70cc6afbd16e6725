/**
 * Kiln's own push format, for its agent: rows that name stacks by content id, and symbols only for the
 * stacks the server has not stored yet. An agent sends the same stacks every 10 s; in pprof or OTLP
 * each push repeats every frame's function, file and mapping (≈ 4 000 entries, ≈ 230 KiB for 800
 * rows), which the server must read and match again. Here a steady push is its rows: 16 bytes each.
 * Parca's agent protocol works the same way (the server asks for the stacktraces it lacks).
 *
 * Ids are the model's content ids (model/ids.ts); the server recomputes every id of the symbols it is
 * sent, so a sender cannot store frames under another stack's id. A row whose stack id is neither sent
 * nor stored is answered 409 with the missing ids (KILN_ROWS_MISSING), and nothing is written: the
 * sender sends the request again with those stacks' symbols.
 *
 * The message, as protobuf (proto3; every id a fixed64):
 *
 *   message RowsRequest {
 *     repeated Mapping mappings = 1;    // 1 id, 2 binary, 3 build_id
 *     repeated Function functions = 2;  // 1 id, 2 name, 3 system_name, 4 file
 *     repeated Location locations = 3;  // 1 id, 2 mapping_id (0: none), 3 uint64 address,
 *                                       // 4 repeated Line { 1 function_id, 2 int64 line }
 *     repeated Stack stacks = 4;        // 1 id, 2 packed fixed64 location_ids (leaf first)
 *     repeated Series series = 5;       // 1 repeated Label { 1 name, 2 value },
 *                                       // 2 ProfileType { 1 name, 2 sample_type, 3 sample_unit, 4 period_type, 5 period_unit },
 *                                       // 3 int64 time_ms, 4 int64 duration_ns, 5 double period,
 *                                       // 6 packed fixed64 stack_ids, 7 packed int64 values (row i: stack_ids[i], values[i])
 *   }
 *
 * This file holds the format's names and numbers only (the agent imports it); kiln-rows-read.ts reads it.
 */
export const KILN_ROWS_PATH = '/kiln/v1/rows';
export const KILN_ROWS_TYPE = 'application/x-kiln-rows';

/** Field numbers, shared by the agent's encoder and the server's decoder. */
export const ROWS = { mappings: 1, functions: 2, locations: 3, stacks: 4, series: 5 } as const;
export const MAPPING = { id: 1, binary: 2, buildId: 3 } as const;
export const FUNCTION = { id: 1, name: 2, systemName: 3, file: 4 } as const;
export const LOCATION = { id: 1, mappingId: 2, address: 3, lines: 4 } as const;
export const LINE = { functionId: 1, line: 2 } as const;
export const STACK = { id: 1, locationIds: 2 } as const;
export const SERIES = { labels: 1, type: 2, timeMs: 3, durationNs: 4, period: 5, stackIds: 6, values: 7 } as const;
export const LABEL = { name: 1, value: 2 } as const;
export const TYPE = { name: 1, sampleType: 2, sampleUnit: 3, periodType: 4, periodUnit: 5 } as const;
