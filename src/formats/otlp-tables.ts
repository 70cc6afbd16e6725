import type {
  Function as OtlpFunction,
  KeyValueAndUnit,
  Link,
  Location as OtlpLocation,
  Mapping as OtlpMapping,
  ProfilesDictionary,
  Stack as OtlpStack,
} from '../gen/opentelemetry/proto/profiles/v1development/profiles_pb.js';
import { InputError } from '../model/errors.js';

/**
 * Bounds-checked reads of an OTLP ProfilesDictionary. Every index in a request comes from the sender,
 * so each lookup names what referred to what when it is out of range, instead of failing later on
 * `undefined`. Index 0 is each table's null entry and is valid.
 */
export class OtlpTables {
  constructor(private readonly dict: ProfilesDictionary) {}

  private at<T>(table: readonly T[], tableName: string, index: number, where: string): T {
    const v = table[index];
    if (v === undefined) {
      // An absent table with index 0 is simply "unset"; only a real reference is an error.
      if (index === 0 && table.length === 0) return undefined as T;
      throw new InputError(`${where} refers to ${tableName}[${index}] but the dictionary's ${tableName} has ${table.length} entries`);
    }
    return v;
  }

  string(index: number, where: string): string {
    return this.at(this.dict.stringTable, 'string_table', index, where) ?? '';
  }

  attribute(index: number, where: string): KeyValueAndUnit | undefined {
    return this.at(this.dict.attributeTable, 'attribute_table', index, where);
  }

  /** A sample's link (its trace and span); index 0 of an absent table is "no link". */
  link(index: number, where: string): Link | undefined {
    return this.at(this.dict.linkTable, 'link_table', index, where);
  }

  stack(index: number, where: string): OtlpStack | undefined {
    return this.at(this.dict.stackTable, 'stack_table', index, where);
  }

  location(index: number, where: string): OtlpLocation | undefined {
    return this.at(this.dict.locationTable, 'location_table', index, where);
  }

  mapping(index: number, where: string): OtlpMapping | undefined {
    return this.at(this.dict.mappingTable, 'mapping_table', index, where);
  }

  function(index: number, where: string): OtlpFunction | undefined {
    return this.at(this.dict.functionTable, 'function_table', index, where);
  }

  /** The key of an attribute-table entry. */
  attributeKey(a: KeyValueAndUnit | undefined, where: string): string {
    return a ? this.string(a.keyStrindex, where) : '';
  }

  /** A string-valued attribute of `indices` named `key`, or ''. */
  findString(indices: readonly number[], key: string, where: string): string {
    for (const i of indices) {
      const a = this.attribute(i, where);
      if (a && this.string(a.keyStrindex, where) === key && a.value?.value.case === 'stringValue') return a.value.value.value;
    }
    return '';
  }
}
