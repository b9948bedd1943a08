// deploy.js -- a deployment's page (#/deployment/ID,ID...): the live
// progress of every node, pushed by pipold as server-sent events
// (GET /api/events, web_events.c), never by reloading: state, bytes,
// rate and ETA (from the bytes between two events), the timeline of its
// states and phases, the post-install and rc output as it arrives.
import { el, clear, bytes, when } from './dom.js';

let source = null;	// the open stream: closed when the page changes

window.addEventListener('hashchange', () => {
	if (source) { source.close(); source = null; }
});

function rateEta(prev, d, now) {
	if (!prev || !d.total || d.written <= prev.written) return ['', ''];
	const secs = (now - prev.t) / 1000;
	if (secs <= 0) return ['', ''];
	const rate = (d.written - prev.written) / secs;
	const eta = Math.max(d.total - d.written, 0) / rate;
	return [`${bytes(rate)}/s`, `${Math.round(eta)} s`];
}

function nodeCard(d, prev, now) {
	const pct = d.total ? Math.min(100, 100 * d.written / d.total) : 0;
	const [rate, eta] = rateEta(prev, d, now);
	const bar = el('span', { class: 'bar' }, el('span'));
	bar.firstChild.style.width = `${pct.toFixed(1)}%`;
	const steps = (d.transitions || []).map(t =>
	    `${t.state} ${new Date(t.at).toLocaleTimeString()}`).join(' → ');
	// the phases passed, with their time (the timeline lists those to
	// come too, without one)
	const phases = (d.phases || []).filter(p => p && p.at).map(p =>
	    `${p.phase} ${new Date(p.at).toLocaleTimeString()}`).join(' · ');
	return el('section', { class: 'node', 'data-dep': d.id,
	    'data-state': d.state },
	    el('h2', {}, `${d.node} — deployment ${d.id} `, el('a',
	    { href: `#/console/${encodeURIComponent(d.node)}`, class: 'console-link' },
	    'console')),
	    el('p', {}, 'State ', el('b', { class: `state-${d.state} state` },
	    d.state), d.reason ? [' — ', el('span', { class: 'reason' },
	    d.reason)] : '', '  ', bar, ` ${bytes(d.written)} of ` +
	    `${bytes(d.total)}`, rate ? `, ${rate}, ETA ${eta}` : ''),
	    el('p', { class: 'timeline' }, steps),
	    phases ? el('p', { class: 'timeline' }, 'Phases: ', phases) : '',
	    (d.log || []).map(l => el('div', { class: 'log' },
	    el('h3', {}, `${l.script}: exit ${l.status} (${when(l.at)})`),
	    el('pre', {}, l.output))));
}

export async function deployPage(main, arg) {
	const ids = String(arg || '').split(',').filter(x => /^\d+$/.test(x));
	if (!ids.length) throw new Error('no deployment named');
	const live = el('div', { id: 'live' });
	const status = el('p', { id: 'stream' }, 'connecting…');
	// every state an event brought, in order (the tests read it)
	const seen = el('ol', { id: 'seen', hidden: true });
	main.append(el('h1', {}, `Deployment ${ids.join(', ')}`), status,
	    live, el('div', { id: 'console-slot' }), seen);
	const prev = {};
	if (source) source.close();
	source = new EventSource(`/api/events?deployments=${ids.join(',')}`);
	source.addEventListener('open', () => { status.textContent = 'live'; });
	source.addEventListener('progress', (ev) => {
		const j = JSON.parse(ev.data), now = Date.now();
		clear(live);
		for (const d of j.deployments) {
			live.append(nodeCard(d, prev[d.id], now));
			if (!prev[d.id] || prev[d.id].state !== d.state)
				seen.append(el('li', {}, `${d.id} ${d.state}`));
			prev[d.id] = { written: d.written, t: now,
			    state: d.state };
		}
	});
	source.addEventListener('end', (ev) => {
		const why = JSON.parse(ev.data).why;
		status.textContent = `stream ended: ${why}`;
		source.close();
		source = null;
	});
	source.addEventListener('error', () => {
		if (source && source.readyState === EventSource.CLOSED)
			status.textContent = 'stream closed';
	});
}
