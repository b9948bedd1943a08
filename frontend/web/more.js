// more.js -- the pages that only show: the reservations chart (nodes x
// time, one's own highlighted, queued requests where the scheduler
// expects them), images, jobs, and the manuals (rendered as text by
// dom.js's markdown, admin.md for admins only).
import { api } from './api.js';
import { el, clear, table, when, markdown } from './dom.js';
import { session } from './app.js';

const HOUR = 3600e3;

export async function chartPage(main) {
	const r = await api('GET', '/api/reservations' +
	    (session.admin ? '?all=1' : ''));
	const now = Date.now(), from = now - HOUR, to = now + 24 * HOUR;
	const x = t => `${Math.max(0, Math.min(100, (t - from) * 100 /
	    (to - from)))}%`;
	const byNode = new Map();
	const add = (name, slot) => {
		if (!byNode.has(name)) byNode.set(name, []);
		byNode.get(name).push(slot);
	};
	for (const v of r.reservations) {
		const queued = v.state === 'queued';
		const start = Date.parse(v.start) || (queued ? now : NaN);
		const end = v.end ? Date.parse(v.end) :
		    start + 1000 * (v.seconds || 3600);
		if (isNaN(start) || end < from || start > to) continue;
		const names = (v.nodes || []).length ? v.nodes :
		    [`(${v.count || '?'} ${v.profile || 'any'})`];
		for (const n of names)
			add(n, { v, start, end, queued });
	}
	const rows = [...byNode.keys()].sort().map(n => el('div',
	    { class: 'row' }, el('span', { class: 'label' }, n),
	    byNode.get(n).map(s => {
		const e = el('span', { class: 'slot' +
		    (s.v.user === session.user ? ' mine' : '') +
		    (s.queued ? ' queued' : ''), title: `#${s.v.id} ` +
		    `${s.v.user} ${s.v.state} ${when(s.start)} – ${when(s.end)}` },
		    `#${s.v.id} ${s.v.user}`);
		e.style.left = `calc(9em + (100% - 9em) * ${parseFloat(x(s.start))
		    / 100})`;
		e.style.width = `calc((100% - 9em) * ${(parseFloat(x(s.end)) -
		    parseFloat(x(s.start))) / 100})`;
		return e;
	    })));
	// the time axis: a mark every 3 hours, and now
	const place = (e, t) => {
		e.style.left = `calc(9em + (100% - 9em) * ${parseFloat(x(t)) /
		    100})`;
		return e;
	};
	const axis = el('div', { class: 'row axis' });
	for (let t = Math.ceil(from / (3 * HOUR)) * 3 * HOUR; t < to;
	    t += 3 * HOUR)
		axis.append(place(el('span', { class: 'tick' }, new Date(t)
		    .toLocaleTimeString([], { hour: '2-digit',
		    minute: '2-digit' })), t));
	axis.append(place(el('span', { class: 'now' }, 'now'), now));
	rows.unshift(axis);
	main.append(el('h1', {}, 'Reservations, the next 24 hours'),
	    el('p', {}, 'Green: yours. Hatched: queued, where the scheduler ' +
	    'expects to place it.'), el('div', { class: 'gantt', id: 'gantt' },
	    rows.length ? rows : el('p', {}, 'nothing reserved')));
}

export async function imagesPage(main) {
	const r = await api('GET', '/api/images');
	const rows = [];
	for (const i of r.images)
		for (const v of i.versions || [])
			rows.push(el('tr', {}, el('td', {}, i.name),
			    el('td', {}, v.version), el('td', {}, v.state),
			    el('td', {}, v.validated ? 'yes' : 'no'),
			    el('td', {}, when(v.created * 1000)),
			    el('td', {}, el('a', { class: 'packages-link', href:
			    `#/packages/${encodeURIComponent(i.name)}:${v.version}` },
			    'packages'))));
	main.append(el('h1', {}, 'Images'), table(['image', 'version',
	    'state', 'validated', 'created', ''], rows));
}

// #/packages/NAME:VERSION: what the version holds (read when it was
// validated), searched as one types (in the page: a few thousand rows)
export async function packagesPage(main, arg) {
	const [name, v] = decodeURIComponent(String(arg || '')).split(':');
	if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name || '') || !/^\d+$/.test(v || ''))
		throw new Error('no image version named');
	const r = await api('GET', `/api/images/${name}/packages?version=${v}`);
	r.packages.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
	const search = el('input', { id: 'pkg-q', type: 'search',
	    placeholder: 'package name contains…', autocomplete: 'off' });
	const count = el('p', { id: 'pkg-count' });
	const body = el('tbody');
	const draw = () => {
		const q = search.value.trim();
		const hits = r.packages.filter(p => p[0].includes(q));
		clear(body).append(...hits.slice(0, 2000).map(p => el('tr',
		    {}, el('td', {}, p[0]), el('td', {}, p[1]),
		    el('td', {}, p[2]))));
		count.textContent = `${hits.length} of ${r.packages.length} ` +
		    'packages' + (hits.length > 2000 ? ' (the first 2000 shown)' : '');
	};
	search.addEventListener('input', draw);
	main.append(el('h1', {}, `Packages of ${r.image}:${r.version}`),
	    r.collected ? '' : el('p', {}, 'Not read: this version was ' +
	    'validated before pipol read packages.'), search, count,
	    el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'package'),
	    el('th', {}, 'version'), el('th', {}, 'arch'))), body));
	draw();
}

// the portability matrix (GET /api/jobs/matrix, pipol job matrix): a
// row per job name, a column per image, each cell the last result
function matrixTable(m) {
	const names = [...new Set(m.cells.map(c => c.name))];
	const cell = (n, i) => m.cells.find(c => c.name === n && c.image === i);
	const rows = names.map(n => el('tr', { 'data-matrix': n },
	    el('th', {}, n), m.images.map((i) => {
		const c = cell(n, i);
		if (!c) return el('td', { class: 'result result-none' }, '–');
		return el('td', { class: `result result-${c.result.replace(/ /g,
		    '-')}`, title: c.reason || (c.status !== null ?
		    `exit ${c.status}` : '') }, c.result, el('br'),
		    el('small', {}, when(c.at)));
	})));
	return table(['job', ...m.images], rows);
}

export async function jobsPage(main) {
	const r = await api('GET', '/api/jobs');
	const m = await api('GET', '/api/jobs/matrix');
	const rows = r.jobs.map(j => el('tr', { 'data-job': j.id },
	    el('td', {}, j.id), el('td', { class: 'name' }, j.name),
	    el('td', {}, j.user), el('td', {}, j.state),
	    el('td', { class: 'argv' }, (j.argv || []).join(' ')),
	    el('td', {}, (j.images || []).join(' ')),
	    el('td', {}, (j.runs || []).map(x => `${x.node || '-'}:${x.state}`)
	    .join(' ')), el('td', {}, when(j.created))));
	main.append(el('h1', {}, 'Jobs'),
	    el('h2', {}, 'Portability matrix'), m.cells.length ?
	    el('div', { id: 'matrix' }, matrixTable(m)) :
	    el('p', {}, 'No job has run yet (pipol sub).'),
	    el('h2', {}, 'Jobs'), table(['id', 'name', 'user', 'state',
	    'argv', 'images', 'runs', 'submitted'], rows));
}

export async function docsPage(main, arg) {
	const name = arg === 'admin' ? 'admin' : 'user';
	const r = await fetch(`/api/web/docs/${name}`,
	    { credentials: 'same-origin' });
	if (!r.ok) throw new Error(`docs ${name}: HTTP ${r.status}`);
	main.append(el('p', {}, el('a', { href: '#/docs/user' }, 'User guide'),
	    session.admin ? [' · ', el('a', { href: '#/docs/admin' },
	    'Admin guide')] : ''), markdown(await r.text()));
}
