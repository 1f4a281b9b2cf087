/**
 * A reader of the one protobuf message the KPL writes inside an aggregate:
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1;
 *                              repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1;
 *                    optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3;
 *                    repeated Tag tags = 4; }
 *   message Tag { required string key = 1; optional string value = 2; }
 *
 * Hand-written for this schema because it is the hot path: it reads the buffer in
 * place, allocates only the key strings and four numbers per user record, and never
 * copies data bytes. It accepts what protobuf-java (KCL's parser) accepts:
 * fields in any order, unknown fields skipped, the last value of a repeated scalar
 * wins; it rejects what protobuf-java rejects: truncation, bad wire types, missing
 * required fields.
 */

/**
 * Where each user record lies in the aggregate, four numbers per user record in a
 * flat array (no object per user record: the caller builds the one it hands on):
 * partition key index, explicit hash key index (-1 when absent), and the byte range
 * of the data in the buffer given to `decodeAggregatedRecord`. Indexes are not yet
 * checked against the tables.
 */
export const USER_RECORD_FIELDS = 4;
export const PARTITION_KEY_INDEX = 0;
export const EXPLICIT_HASH_KEY_INDEX = 1;
export const DATA_START = 2;
export const DATA_END = 3;

export interface AggregatedRecord {
  readonly partitionKeyTable: string[];
  readonly explicitHashKeyTable: string[];
  /** `USER_RECORD_FIELDS` numbers per user record, in order (see above). */
  readonly userRecordFields: number[];
}

/** The bytes are not a well-formed AggregatedRecord message. */
export class KplFormatError extends Error {
  override readonly name = 'KplFormatError';
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

// Full tags (field number << 3 | wire type) of the fields this schema knows.
const TAG_PARTITION_KEY_TABLE = (1 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_EXPLICIT_HASH_KEY_TABLE = (2 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_RECORDS = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PARTITION_KEY_INDEX = (1 << 3) | WIRE_VARINT;
const TAG_EXPLICIT_HASH_KEY_INDEX = (2 << 3) | WIRE_VARINT;
const TAG_DATA = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_TAGS = (4 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_TAG_KEY = (1 << 3) | WIRE_LENGTH_DELIMITED;

const MAX_VARINT_BYTES = 10;

/**
 * Buffer's own UTF-8 slicer, the one `toString('utf8', start, end)` ends in; calling it
 * directly skips the encoding lookup and argument checks, which cost more than the
 * decoding itself for partition keys of a few dozen bytes (measured: about half of
 * the reader's time on a 1,000-record aggregate).
 */
interface NativeUtf8Slice {
  utf8Slice(start: number, end: number): string;
}
const hasNativeUtf8Slice = typeof (Buffer.prototype as unknown as Partial<NativeUtf8Slice>).utf8Slice === 'function';

function utf8(bytes: Buffer, start: number, end: number): string {
  return hasNativeUtf8Slice
    ? (bytes as unknown as NativeUtf8Slice).utf8Slice(start, end)
    : bytes.toString('utf8', start, end);
}

/** A position in a byte range of the buffer; every read checks the range end. */
class Cursor {
  constructor(
    readonly bytes: Buffer,
    public pos: number,
    public end: number,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /**
   * An unsigned varint as a number. Values above 2^53 lose precision, which is harmless
   * here: such a value is never a valid table index or length.
   */
  varint(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    if (pos < this.end) {
      const first = bytes[pos];
      if (first < 0x80) {
        this.pos = pos + 1;
        return first;
      }
    }
    let value = 0;
    let scale = 1;
    const start = pos;
    for (;;) {
      if (pos >= this.end) throw new KplFormatError(`truncated varint at byte ${start}`);
      if (pos - start >= MAX_VARINT_BYTES) throw new KplFormatError(`varint longer than 10 bytes at byte ${start}`);
      const byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    this.pos = pos;
    return value;
  }

  /** Reads a length prefix and returns the end of the field it announces. */
  lengthDelimitedEnd(): number {
    const at = this.pos;
    const length = this.varint();
    const fieldEnd = this.pos + length;
    if (fieldEnd > this.end) {
      throw new KplFormatError(`field at byte ${at} announces ${length} bytes but only ${this.end - this.pos} remain`);
    }
    return fieldEnd;
  }

  string(): string {
    const fieldEnd = this.lengthDelimitedEnd();
    const text = utf8(this.bytes, this.pos, fieldEnd);
    this.pos = fieldEnd;
    return text;
  }

  /** Skips a field this schema does not know (protobuf keeps unknown fields; KCL ignores them). */
  skip(tag: number): void {
    const wireType = tag & 7;
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH_DELIMITED:
        this.pos = this.lengthDelimitedEnd();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      case WIRE_START_GROUP: {
        const field = tag >>> 3;
        for (;;) {
          if (this.atEnd) throw new KplFormatError(`group ${field} is not closed`);
          const inner = this.tag();
          if ((inner & 7) === WIRE_END_GROUP) {
            if (inner >>> 3 !== field) throw new KplFormatError(`group ${field} closed as ${inner >>> 3}`);
            return;
          }
          this.skip(inner);
        }
      }
      default:
        throw new KplFormatError(`wire type ${wireType} of field ${tag >>> 3} is not valid here (byte ${this.pos})`);
    }
  }

  tag(): number {
    const at = this.pos;
    const tag = this.varint();
    if (tag >>> 3 === 0 || tag > 0xffffffff) throw new KplFormatError(`invalid field tag ${tag} at byte ${at}`);
    return tag;
  }

  /**
   * Narrows the range to a submessage ending at `fieldEnd`, so a malformed submessage
   * cannot read into its neighbour; returns the outer end for `leave`. (One cursor,
   * narrowed and widened, instead of one object per user record.)
   */
  enter(fieldEnd: number): number {
    const outerEnd = this.end;
    this.end = fieldEnd;
    return outerEnd;
  }

  leave(outerEnd: number): void {
    this.end = outerEnd;
  }

  private advance(count: number): void {
    if (this.pos + count > this.end) throw new KplFormatError(`truncated fixed-width field at byte ${this.pos}`);
    this.pos += count;
  }
}

/**
 * Decodes the AggregatedRecord held in `bytes[start, end)` (the part between the magic
 * and the MD5 trailer). Throws `KplFormatError` on anything protobuf would refuse.
 */
export function decodeAggregatedRecord(bytes: Buffer, start: number, end: number): AggregatedRecord {
  const partitionKeyTable: string[] = [];
  const explicitHashKeyTable: string[] = [];
  const userRecordFields: number[] = [];
  const cursor = new Cursor(bytes, start, end);
  while (!cursor.atEnd) {
    const tag = cursor.tag();
    if (tag === TAG_RECORDS) {
      const recordEnd = cursor.lengthDelimitedEnd();
      readRecord(cursor, recordEnd, userRecordFields.length / USER_RECORD_FIELDS, userRecordFields);
    } else if (tag === TAG_PARTITION_KEY_TABLE) {
      partitionKeyTable.push(cursor.string());
    } else if (tag === TAG_EXPLICIT_HASH_KEY_TABLE) {
      explicitHashKeyTable.push(cursor.string());
    } else {
      cursor.skip(tag);
    }
  }
  return { partitionKeyTable, explicitHashKeyTable, userRecordFields };
}

/** Reads one Record submessage and appends its four numbers to `into`. */
function readRecord(cursor: Cursor, recordEnd: number, ordinal: number, into: number[]): void {
  const outerEnd = cursor.enter(recordEnd);
  let partitionKeyIndex = -1;
  let explicitHashKeyIndex = -1;
  let dataStart = -1;
  let dataEnd = -1;
  while (!cursor.atEnd) {
    const tag = cursor.tag();
    if (tag === TAG_PARTITION_KEY_INDEX) {
      partitionKeyIndex = cursor.varint();
    } else if (tag === TAG_DATA) {
      dataEnd = cursor.lengthDelimitedEnd();
      dataStart = cursor.pos;
      cursor.pos = dataEnd;
    } else if (tag === TAG_EXPLICIT_HASH_KEY_INDEX) {
      explicitHashKeyIndex = cursor.varint();
    } else if (tag === TAG_TAGS) {
      const tagEnd = cursor.lengthDelimitedEnd();
      checkTag(cursor, tagEnd, ordinal);
    } else {
      cursor.skip(tag);
    }
  }
  if (partitionKeyIndex < 0) throw new KplFormatError(`user record ${ordinal} has no partition_key_index`);
  if (dataStart < 0) throw new KplFormatError(`user record ${ordinal} has no data`);
  cursor.leave(outerEnd);
  const at = into.length;
  into[at] = partitionKeyIndex;
  into[at + 1] = explicitHashKeyIndex;
  into[at + 2] = dataStart;
  into[at + 3] = dataEnd;
}

/** Tags are not delivered (KCL ignores them too), but a tag without its required key is a malformed message. */
function checkTag(cursor: Cursor, tagEnd: number, ordinal: number): void {
  const outerEnd = cursor.enter(tagEnd);
  let hasKey = false;
  while (!cursor.atEnd) {
    const tag = cursor.tag();
    if (tag === TAG_TAG_KEY) hasKey = true;
    cursor.skip(tag);
  }
  if (!hasKey) throw new KplFormatError(`a tag of user record ${ordinal} has no key`);
  cursor.leave(outerEnd);
}
