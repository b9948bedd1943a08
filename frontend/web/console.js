// console.js -- a node's serial console in the page (#/console/NODE):
// xterm.js (vendor/, pinned by vendor/fetch.sh, loaded only here) over a
// WebSocket to GET /api/nodes/NODE/console, the route pipol console
// uses: the holder of the node (admins: any node), nobody else. What
// the node says is also kept with its deployment (pipol log ID
// --console), watched or not.
import { api } from './api.js';
import { el } from './dom.js';

let ws = null;	// the open console: closed when the page changes

window.addEventListener('hashchange', () => {
	if (ws) { ws.close(); ws = null; }
});

// xterm.js makes <style> elements; the page's CSP lets in only those
// that carry its nonce (index.html's, new at each load): each <style>
// made from now on is given it when made, before it is in the page
let stamped = false;
function stampStyles() {
	if (stamped) return;
	const meta = document.querySelector('meta[name="pipol-style-nonce"]');
	const nonce = meta ? meta.content : '';
	const make = document.createElement.bind(document);
	document.createElement = (tag, opts) => {
		const e = make(tag, opts);
		if (String(tag).toLowerCase() === 'style') e.setAttribute('nonce', nonce);
		return e;
	};
	stamped = true;
}

export async function consolePage(main, arg) {
	const node = decodeURIComponent(String(arg || ''));
	if (!/^[A-Za-z0-9._-]{1,63}$/.test(node)) throw new Error('no node named');
	// the route's refusal in one sentence (a WebSocket refused says
	// nothing): without Upgrade it answers 400 only to who may attach
	try {
		await api('GET', `/api/nodes/${encodeURIComponent(node)}/console`);
	} catch (e) {
		if (e.status !== 400) throw e;
	}
	const status = el('p', { id: 'console-status' }, 'connecting…');
	const box = el('div', { id: 'term' });
	main.append(el('h1', {}, `Console of ${node}`), status, box,
	    el('p', { class: 'hint' }, 'Keys go to the node while this page ' +
	    'is open; leaving the page detaches. From a shell: pipol console ' +
	    `${node}.`));
	stampStyles();
	const { Terminal } = await import('./vendor/xterm.mjs');
	const term = new Terminal({ cursorBlink: true, scrollback: 5000,
	    fontSize: 14 });
	term.open(box);
	const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
	const sock = new WebSocket(`${proto}//${location.host}/api/nodes/` +
	    `${encodeURIComponent(node)}/console`);
	if (ws) ws.close();
	ws = sock;
	sock.binaryType = 'arraybuffer';
	const enc = new TextEncoder();
	sock.addEventListener('open', () => {
		status.textContent = 'attached';
		term.focus();
	});
	sock.addEventListener('message', (ev) => term.write(new Uint8Array(ev.data)));
	sock.addEventListener('close', () => {
		status.textContent = 'detached';
		if (ws === sock) ws = null;
	});
	term.onData((d) => {
		if (sock.readyState === WebSocket.OPEN) sock.send(enc.encode(d));
	});
}
