import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScramClientExchange, scramSecret, ScramServerExchange, ScramError } from './scram.js';

describe('SCRAM-SHA-256', () => {
  const secret = scramSecret('correct horse battery staple');

  it('client and server agree on the right password, and the client checks the server', () => {
    const client = new ScramClientExchange('correct horse battery staple');
    const server = new ScramServerExchange(secret);
    const serverFirst = server.first(client.first());
    const serverFinal = server.final(client.final(serverFirst));
    assert.ok(serverFinal !== null);
    client.verify(serverFinal);
  });

  it('the server refuses a wrong password (null, not an exception)', () => {
    const client = new ScramClientExchange('wrong password!!');
    const server = new ScramServerExchange(secret);
    assert.equal(server.final(client.final(server.first(client.first()))), null);
  });

  it('a client refuses a server that does not know the password', () => {
    const client = new ScramClientExchange('correct horse battery staple');
    const impostor = new ScramServerExchange(scramSecret('something else entirely'));
    const serverFinal = impostor.final(client.final(impostor.first(client.first())));
    assert.equal(serverFinal, null);
    assert.throws(() => client.verify('v=AAAA'), ScramError);
  });

  it('rejects channel binding and a replayed nonce', () => {
    assert.throws(() => new ScramServerExchange(secret).first('p=tls-server-end-point,,n=,r=abc'), /channel binding/);
    const client = new ScramClientExchange('correct horse battery staple');
    const server = new ScramServerExchange(secret);
    const serverFirst = server.first(client.first());
    const final = client.final(serverFirst).replace(/r=[^,]+/, 'r=other');
    assert.throws(() => server.final(final), /nonce/);
  });
});
