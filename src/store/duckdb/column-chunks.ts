import type { DuckDBAppender, DuckDBType } from '@duckdb/node-api';
import { DuckDBDataChunk, DuckDBListVector, DuckDBVector } from '@duckdb/node-api';
import type { EventLoopSlices } from '../event-loop-slices.js';

/**
 * Rows appended as whole column chunks (DuckDB's vector size, 2 048 rows): values are written into
 * the chunk's vectors in JavaScript and each vector crosses into DuckDB with one copy, one
 * `appendDataChunk` per 2 048 rows. Value-by-value appends were six N-API calls per sample row
 * (five values and `endRow`), ≈ 6 % of the server's ingest CPU, and a list value built per row (the
 * stacks' location lists) cost ~15 µs and four native handles each, which the garbage collector then
 * finalized in pauses of 70–80 ms. With the stack-key table (symbols.ts), a commit went from 3.31 to
 * 1.52 µs of CPU per row (same batches, interleaved, load 5.4); what is left is DuckDB's own append
 * and WAL (≈ 0.8–1.2 µs per row, docs/BENCHMARKS.md).
 */
export class ColumnChunks {
  private readonly rows: number;
  private readonly chunk: DuckDBDataChunk;
  /** Column i's vector of the current chunk: callers set row `nextRow()`'s item in each. */
  readonly vectors: readonly DuckDBVector[];
  private readonly lists: readonly DuckDBListVector[];
  private readonly buffer: ChunkBuffer;
  private readonly pool: ChunkPool | undefined;
  private n = 0;

  /**
   * @param columns the column types (a new chunk), or a pool the chunk comes from and goes back to once closed.
   * @param capacity rows per new chunk, at most DuckDB's vector size: a batch known to be small (a commit's
   * few new symbols) gets a chunk of its size, since flushing walks every row of the chunk.
   */
  constructor(
    private readonly appender: DuckDBAppender,
    columns: readonly DuckDBType[] | ChunkPool,
    capacity = DuckDBVector.standardSize(),
  ) {
    this.pool = columns instanceof ChunkPool ? columns : undefined;
    const buffer = columns instanceof ChunkPool ? columns.take() : new ChunkBuffer(columns, capacity);
    this.buffer = buffer;
    this.rows = buffer.rows;
    this.chunk = buffer.chunk;
    this.vectors = buffer.vectors;
    this.lists = buffer.lists;
  }

  /** The index of a new row in the current chunk; a full chunk is appended first. */
  nextRow(): number {
    if (this.n === this.rows) this.flush();
    return this.n++;
  }

  /**
   * For a large batch: appends the chunk if it is full and then, when the slice is used up, returns
   * the event loop's turn to await (undefined otherwise: no await per row on the usual path).
   */
  flushIfFull(slices: EventLoopSlices): Promise<void> | undefined {
    if (this.n < this.rows) return undefined;
    this.flush();
    return slices.pause(this.rows);
  }

  /** Appends what is buffered and closes the appender (rows reach the table, inside the transaction). */
  close(): void {
    this.flush();
    this.appender.closeSync();
    this.pool?.give(this.buffer);
  }

  private flush(): void {
    if (this.n === 0) return;
    // A list vector's flush lays out every item of the chunk, set or not: past a partial chunk's rows
    // it would read list bounds this chunk never wrote. Those items are set empty (null) first.
    if (this.n < this.rows) for (const v of this.lists) for (let r = this.n; r < this.rows; r++) v.setItem(r, null);
    for (const v of this.vectors) v.flush();
    // The last chunk is usually partial. Its size is set after the vectors are copied in (setting it
    // drops the chunk's cached vector views; the vectors held here stay valid), and this chunk is
    // not filled again after a partial flush: flush only runs partial from close(), and a pool sets
    // the full size back before it hands the chunk out again.
    if (this.n < this.rows) this.chunk.rowCount = this.n;
    this.appender.appendDataChunk(this.chunk);
    this.n = 0;
  }
}

/** A DuckDB data chunk and the vectors this module writes it through, for one list of column types. */
class ChunkBuffer {
  readonly rows: number;
  readonly chunk: DuckDBDataChunk;
  readonly vectors: readonly DuckDBVector[];
  readonly lists: readonly DuckDBListVector[];

  constructor(types: readonly DuckDBType[], capacity: number) {
    this.rows = Math.max(1, Math.min(capacity, DuckDBVector.standardSize()));
    this.chunk = DuckDBDataChunk.create(types, this.rows);
    this.vectors = types.map((_, i) => this.chunk.getColumnVector(i));
    this.lists = this.vectors.filter((v): v is DuckDBListVector => v instanceof DuckDBListVector);
  }
}

/**
 * Chunks of one list of column types kept between commits. Building a full chunk (DuckDB allocates its
 * vectors, and each vector's memory is copied into JavaScript) cost 0.4-0.5 ms of CPU, once per commit
 * for the samples table (bench/duckdb-chunk-build.ts); a chunk's rows are all written before it is
 * appended, so one left from an earlier commit holds nothing that reaches the table. Only chunks whose
 * appender closed come back: one from a failed commit is dropped, whatever it holds.
 */
export class ChunkPool {
  private readonly free: ChunkBuffer[] = [];

  constructor(
    private readonly types: readonly DuckDBType[],
    private readonly capacity = DuckDBVector.standardSize(),
    /** Chunks kept at most: a commit writes one day, rarely two. */
    private readonly keep = 2,
  ) {}

  take(): ChunkBuffer {
    return this.free.pop() ?? new ChunkBuffer(this.types, this.capacity);
  }

  give(buffer: ChunkBuffer): void {
    if (this.free.length >= this.keep) return;
    // A partial flush shrank the chunk to its rows; the vectors held were built for the full size.
    if (buffer.chunk.rowCount !== buffer.rows) buffer.chunk.rowCount = buffer.rows;
    this.free.push(buffer);
  }
}
