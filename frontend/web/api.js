// api.js -- the JSON API as the page speaks it: the session cookie goes
// with every request (same origin only), and every request that may
// change something carries the session's CSRF token in X-CSRF-Token.
// A refusal is thrown as an Error whose message is the API's one line.
let csrf = '';

export function setCsrf(t) { csrf = t || ''; }

export async function api(method, path, body) {
	const opt = { method, credentials: 'same-origin', headers: {} };
	if (method !== 'GET') opt.headers['X-CSRF-Token'] = csrf;
	if (body !== undefined) {
		opt.headers['Content-Type'] = 'application/json';
		opt.body = JSON.stringify(body);
	}
	const r = await fetch(path, opt);
	let j = null;
	try { j = await r.json(); } catch (e) { j = null; }
	if (!r.ok) {
		const err = new Error(j && j.error ? j.error :
		    `${method} ${path}: HTTP ${r.status}`);
		err.status = r.status;
		throw err;
	}
	return j;
}
