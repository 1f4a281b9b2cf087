/**
 * Lambda names the source stream only by ARN (`eventSourceARN` on every record),
 * while the Kinesis calls the runtime makes need its name: kinesalite's ListShards
 * accepts `StreamName` but not `StreamARN`, and names work against AWS as well.
 */

// arn:<partition>:kinesis:<region>:<account>:stream/<name>[/consumer/<consumer>:<creation>]
// The consumer suffix is what an enhanced fan-out source ARN looks like; the stream
// is still the part before it. Names follow Kinesis's rule: 1-128 of [a-zA-Z0-9_.-].
const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:([0-9]{12}):stream\/([a-zA-Z0-9_.-]{1,128})(?:\/consumer\/[^/]+)?$/;

/** The stream name inside a Kinesis stream (or stream consumer) ARN; throws for anything else. */
export function streamNameFromArn(eventSourceArn: string): string {
  return streamOfArn(eventSourceArn).streamName;
}

/** The account and stream name of a Kinesis stream (or stream consumer) ARN; throws for anything else. */
export function streamOfArn(eventSourceArn: string): { readonly account: string; readonly streamName: string } {
  const match = typeof eventSourceArn === 'string' ? STREAM_ARN.exec(eventSourceArn) : null;
  if (match === null) {
    throw new TypeError(
      `Not a Kinesis stream ARN (expected arn:aws:kinesis:<region>:<account>:stream/<name>): ${JSON.stringify(eventSourceArn)}`,
    );
  }
  return { account: match[1], streamName: match[2] };
}
