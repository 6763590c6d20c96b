/**
 * Where the user id comes from, for every convention that sends one: first non-empty source wins; the
 * empty strings and `None` placeholders LiteLLM sends for missing values are absent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnyValue, Span } from '../../core/otlp.js';
import { keyValues, testSpan } from '../../core/testing/test-span.js';
import { extractGenAiCall } from './extract-genai-call.js';

function span(attributes: Record<string, AnyValue>): Span {
  return testSpan({
    name: 'chat',
    attributes: keyValues({ 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', ...attributes }),
  });
}

const userIdOf = (attributes: Record<string, AnyValue>) => extractGenAiCall(span(attributes))?.ownership.userId;

test('each convention’s user id key is read', () => {
  const cases: [string, Record<string, AnyValue>][] = [
    ['OTel semconv / OpenInference user.id', { 'user.id': 'u1' }],
    ['deprecated semconv enduser.id', { 'enduser.id': 'u1' }],
    ['LiteLLM key user', { 'metadata.user_api_key_user_id': 'u1' }],
    ['LiteLLM end user', { 'metadata.user_api_key_end_user_id': 'u1' }],
    ['LiteLLM metadata as one JSON attribute', { metadata: '{"user_api_key_user_id": "u1", "team_id": "t"}' }],
    ['LiteLLM metadata as Python repr', { metadata: "{'user_api_key_end_user_id': 'u1', 'user_api_key_user_id': None}" }],
    ['AI SDK telemetry metadata', { 'ai.telemetry.metadata.userId': 'u1' }],
    ['Traceloop association property', { 'traceloop.association.properties.user_id': 'u1' }],
    ['Langfuse', { 'langfuse.user.id': 'u1' }],
    ['OpenLIT request user', { 'gen_ai.request.user': 'u1' }],
    ['OpenLLMetry (Python) llm.user', { 'llm.user': 'u1' }],
  ];
  for (const [name, attributes] of cases) assert.equal(userIdOf(attributes), 'u1', name);
});

test('first non-empty wins; LiteLLM empty strings and None are absent; no source is null', () => {
  assert.equal(userIdOf({ 'user.id': 'semconv', 'metadata.user_api_key_user_id': 'litellm' }), 'semconv');
  assert.equal(userIdOf({ 'metadata.user_api_key_user_id': '', 'metadata.user_api_key_end_user_id': 'end-user' }), 'end-user');
  assert.equal(userIdOf({ 'user.id': '   ', 'enduser.id': 'None', 'langfuse.user.id': 'lf' }), 'lf');
  assert.equal(userIdOf({ 'metadata.user_api_key_user_id': '', metadata: '{"user_api_key_user_id": ""}' }), null);
  assert.equal(userIdOf({}), null);
});
