import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageFramer } from './pg-wire.js';

const message = (type: string, body: Buffer) => {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
};

describe('MessageFramer', () => {
  it('frames messages split across chunks and several in one chunk', () => {
    const framer = new MessageFramer(1024, true);
    const bytes = Buffer.concat([message('Q', Buffer.from('SELECT 1\0')), message('S', Buffer.alloc(0))]);
    framer.push(bytes.subarray(0, 3));
    assert.equal(framer.next(), null);
    framer.push(bytes.subarray(3));
    const first = framer.next();
    assert.ok(first?.kind === 'message');
    assert.equal(String.fromCharCode(first.type), 'Q');
    assert.equal(first.body.toString(), 'SELECT 1\0');
    assert.equal(framer.next()?.kind, 'message');
    assert.equal(framer.next(), null);
  });

  it('reports an oversized message at its header and discards its bytes as they arrive, holding none', () => {
    const framer = new MessageFramer(1024, true);
    const huge = message('Q', Buffer.alloc(10 * 1024 * 1024, 0x41));
    framer.push(huge.subarray(0, 64 * 1024));
    const framed = framer.next();
    assert.deepEqual(framed, { kind: 'oversized', type: 'Q'.charCodeAt(0), length: huge.length });
    for (let at = 64 * 1024; at < huge.length; at += 64 * 1024) {
      framer.push(huge.subarray(at, at + 64 * 1024));
      assert.equal(framer.bufferedBytes, 0);
      assert.equal(framer.next(), null);
    }
    // The stream goes on with the next message.
    framer.push(message('S', Buffer.alloc(0)));
    assert.equal(framer.next()?.kind, 'message');
  });

  it('an untyped startup packet announcing 2 GB is refused before any of it is held', () => {
    const framer = new MessageFramer(10_000, false);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(0x7fffffff, 0);
    framer.push(header);
    assert.equal(framer.next()?.kind, 'oversized');
  });
});
