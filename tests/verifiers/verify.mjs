// Runs third-party verifiers on one Open Badges 3.0 credential, offline, and prints a JSON verdict.
//
//   node verify.mjs --base http://127.0.0.1:PORT [--contexts DIR] [--schemas DIR] < credential(.json|.jwt)
//
// - Digital Bazaar: @digitalbazaar/vc verifyCredential + DataIntegrityProof/eddsa-rdfc-2022, status
//   checked with @digitalbazaar/vc-bitstring-status-list (status list proof and issuer verified).
// - DCC: @digitalcredentials/verifier-core verifyCredential (what the Learner Credential Wallet and
//   VerifierPlus run). It builds its own document loader and HTTP client, so the network is replaced
//   below by a fetch that answers only from local files and the test server.
// - jose: a VC-JWT (compact JWS) is verified with the key its header `kid` resolves to.
//
// Nothing leaves this machine: https URLs and did:web DIDs of the test server's host are answered by
// the test server (over http), the JSON-LD contexts and 1EdTech schemas from local copies; anything
// else fails as if the network were down.
import {readFileSync, readdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, i, all) => {
  if(value.startsWith('--')) {
    pairs.push([value.slice(2), all[i + 1]]);
  }
  return pairs;
}, []));
const base = new URL(args.base ?? 'http://127.0.0.1:8000');
const contextsDir = args.contexts ?? join(here, '..', '..', 'badging', 'contexts');
const schemasDir = args.schemas ?? '/work/shared/reference/data/ob30-schema';

// --- Offline network ---------------------------------------------------------------------------

const CONTEXT_FILES = {
  'https://www.w3.org/ns/credentials/v2': 'credentials-v2.jsonld',
  'https://www.w3.org/2018/credentials/v1': '2018-credentials-v1.jsonld',
  'https://w3id.org/security/data-integrity/v1': 'data-integrity-v1.jsonld',
  'https://w3id.org/security/data-integrity/v2': 'data-integrity-v2.jsonld',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json': 'ob-v3p0-3.0.1.json',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json': 'ob-v3p0-3.0.2.json',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json': 'ob-v3p0-3.0.3.json',
  'https://purl.imsglobal.org/spec/ob/v3p0/extensions.json': 'ob-v3p0-extensions.json'
};
const localDocuments = new Map();
for(const [url, file] of Object.entries(CONTEXT_FILES)) {
  localDocuments.set(url, readFileSync(join(contextsDir, file), 'utf8'));
}
const didContext = (await import('did-context')).default;
localDocuments.set(didContext.constants.DID_CONTEXT_URL,
  JSON.stringify(didContext.contexts.get(didContext.constants.DID_CONTEXT_URL)));
for(const file of readdirSync(schemasDir).filter(name => name.endsWith('.json'))) {
  // Published at purl.imsglobal.org/spec/ob/v3p0/schema/json/<file name>; the files' own $id differs.
  const text = readFileSync(join(schemasDir, file), 'utf8');
  localDocuments.set(`https://purl.imsglobal.org/spec/ob/v3p0/schema/json/${file}`, text);
  localDocuments.set(JSON.parse(text).$id, text);
}

const requested = [];
const realFetch = globalThis.fetch;

function toTestServer(url) {
  // The test server speaks http on loopback; a wallet would reach the same paths over https.
  const parsed = new URL(url);
  if(parsed.host !== base.host) {
    return null;
  }
  return new URL(parsed.pathname + parsed.search, base).href;
}

globalThis.fetch = async (input, init = {}) => {
  const url = typeof input === 'string' ? input : (input.url ?? String(input));
  const headers = new Headers(init.headers ?? (typeof input === 'object' ? input.headers : undefined));
  const clean = url.split('#')[0];
  requested.push(clean);
  if(localDocuments.has(clean)) {
    return new Response(localDocuments.get(clean), {
      status: 200, headers: {'content-type': 'application/ld+json'}
    });
  }
  const local = toTestServer(clean);
  if(local === null) {
    throw new TypeError(`fetch failed: offline, ${clean} is not a local document`);
  }
  return realFetch(local, {method: init.method ?? 'GET', headers});
};

function didWebToUrl(did) {
  // did:web method §3.2: ':' separates path segments, a port is percent-encoded in the host.
  const [domain, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  return `https://${domain}/${path.length ? path.join('/') : '.well-known'}/did.json`;
}

async function loadJson(url) {
  const response = await globalThis.fetch(url, {headers: {accept: 'application/ld+json, application/json'}});
  if(!response.ok) {
    throw new Error(`HTTP ${response.status} loading ${url}`);
  }
  return response.json();
}

// A document loader for the Digital Bazaar stack (DCC builds its own; it uses the fetch above).
async function documentLoader(url) {
  if(url.startsWith('did:web:')) {
    const [did, fragment] = url.split('#');
    const didDocument = await loadJson(didWebToUrl(did));
    if(didDocument.id !== did) {
      throw new Error(`DID document at ${didWebToUrl(did)} is for ${didDocument.id}, not ${did}`);
    }
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document: didDocument};
    }
    const method = (didDocument.verificationMethod ?? []).find(vm => vm.id === url);
    if(!method) {
      throw new Error(`${url} is not a verification method of ${did}`);
    }
    return {
      contextUrl: null, documentUrl: url,
      document: {'@context': 'https://w3id.org/security/multikey/v1', ...method}
    };
  }
  return {contextUrl: null, documentUrl: url, document: await loadJson(url)};
}

// --- Verifiers -----------------------------------------------------------------------------------

function errorText(error) {
  if(!error) {
    return null;
  }
  const nested = error.errors ?? (Array.isArray(error) ? error : null);
  if(nested) {
    return nested.map(errorText).join('; ');
  }
  return `${error.name ?? 'Error'}: ${error.message}` +
    (error.cause ? ` (cause: ${errorText(error.cause)})` : '');
}

async function digitalBazaar(credential) {
  const vc = await import('@digitalbazaar/vc');
  const {DataIntegrityProof} = await import('@digitalbazaar/data-integrity');
  const {cryptosuite} = await import('@digitalbazaar/eddsa-rdfc-2022-cryptosuite');
  const {checkStatus} = await import('@digitalbazaar/vc-bitstring-status-list');
  const suite = new DataIntegrityProof({cryptosuite});
  try {
    const result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
    const status = result.statusResult?.results?.[0]?.status ?? result.statusResult?.status ?? null;
    return {
      verified: result.verified,
      revoked: status === true,
      statusChecked: Boolean(result.statusResult?.verified),
      error: errorText(result.error)
    };
  } catch(error) {
    return {verified: false, revoked: null, statusChecked: false, error: errorText(error)};
  }
}

async function dcc(credential) {
  const {verifyCredential} = await import('@digitalcredentials/verifier-core');
  const result = await verifyCredential({credential, knownDIDRegistries: []});
  const errors = (result.errors ?? []).map(e => `${e.name}: ${e.message}`);
  const log = result.log ?? [];
  const steps = Object.fromEntries(log.map(step => [step.id, step.error ? `${step.error.name}: ${step.error.message}` : step.valid]));
  const revoked = 'revocation_status' in steps ? steps.revocation_status === false : null;
  const schemaResults = (result.additionalInformation ?? []).filter(entry => entry.id === 'schema_check');
  return {
    verified: errors.length === 0 && log.length > 0 &&
      ['valid_signature', 'revocation_status'].every(id => steps[id] === true),
    revoked,
    steps,
    schema: schemaResults,
    errors
  };
}

async function jwt(token) {
  const jose = await import('jose');
  try {
    const header = jose.decodeProtectedHeader(token);
    const key = await loadJson(header.kid);
    const publicKey = await jose.importJWK(key, header.alg);
    const {payload, protectedHeader} = await jose.jwtVerify(token, publicKey, {algorithms: ['RS256']});
    const claims = {
      iss: payload.iss === (payload.issuer?.id ?? payload.issuer),
      jti: payload.jti === payload.id,
      sub: typeof payload.sub === 'string' && payload.sub === payload.credentialSubject?.id,
      nbf: payload.nbf === Math.floor(Date.parse(payload.validFrom) / 1000),
      exp: payload.validUntil === undefined ||
        payload.exp === Math.floor(Date.parse(payload.validUntil) / 1000)
    };
    return {verified: true, header: protectedHeader, claims, payload, error: null};
  } catch(error) {
    return {verified: false, error: errorText(error)};
  }
}

const input = readFileSync(0, 'utf8').trim();
const verdict = {};
if(input.startsWith('{')) {
  const credential = JSON.parse(input);
  verdict.digitalbazaar = await digitalBazaar(credential);
  verdict.dcc = await dcc(credential);
} else {
  verdict.jwt = await jwt(input);
  if(verdict.jwt.verified && verdict.jwt.payload.proof) {
    // OB 3.0 §8: the JWT payload is the credential with its embedded proof: that verifies too.
    const {iss, jti, sub, nbf, exp, ...credential} = verdict.jwt.payload;
    verdict.digitalbazaar = await digitalBazaar(credential);
  }
}
verdict.requested = [...new Set(requested)];
// Libraries log to stdout: the verdict is the last line.
process.stdout.write('\n' + JSON.stringify(verdict) + '\n');
