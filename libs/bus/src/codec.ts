/**
 * The codec a bus call needs to turn a message into bytes and back. It is the structural subset of
 * ts-proto's generated `MessageFns<T>`, so services pass `@rest/proto` messages directly
 * (`publishWork(subject, GrowShard, msg, ...)`) and this package never imports generated code.
 */
import { InvalidArgumentError } from '@rest/service-kit';

/** Encodes and decodes one message type; ts-proto's `MessageFns<T>` satisfies it. */
export interface MessageCodec<T> {
  /** Serializes `message`; `.finish()` yields the wire bytes. */
  encode(message: T): { finish(): Uint8Array };
  /** Parses wire bytes; throws on bytes that are not a `T`. */
  decode(bytes: Uint8Array): T;
}

/**
 * Decodes `bytes`, turning any decoder failure into one typed error.
 * @throws InvalidArgumentError (with the decoder's error as `cause`) when the bytes do not decode.
 */
export function decodeWith<T>(codec: MessageCodec<T>, bytes: Uint8Array, subject: string): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new InvalidArgumentError(`payload on ${subject} does not decode (${bytes.length} bytes)`, {
      cause: err,
    });
  }
}
