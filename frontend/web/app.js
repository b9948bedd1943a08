// app.js -- the web interface: log in (an API token traded for a
// session cookie), the router (#/page/arg), and the pages that list and
// act: nodes (paginated and filtered by the server), reservations (the
// reserve and deploy forms, extend and release), deployments. Pages of
// their own: deploy.js (a deployment, live), more.js (chart, images,
// jobs, docs), admin.js. Every page speaks only the JSON API (api.js).
import { api, setCsrf } from './api.js';
import { el, clear, table, when } from './dom.js';
import { deployPage } from './deploy.js';
import { chartPage, imagesPage, packagesPage, jobsPage, docsPage }
    from './more.js';
import { adminPage } from './admin.js';
import { consolePage } from './console.js';

const $ = id => document.getElementById(id);
export const session = { user: '', admin: false };

export function showError(msg) {
	const e = $('error');
	e.textContent = msg || '';
	e.hidden = !msg;
}

// run an action, its refusal shown as the API's one sentence
export async function act(fn) {
	showError('');
	try { await fn(); } catch (e) { showError(e.message); }
}

function loggedIn(s) {
	session.user = s.user;
	session.admin = s.admin;
	setCsrf(s.csrf);
	$('who').textContent = s.user + (s.admin ? ' (admin)' : '');
	$('nav').hidden = false;
	$('nav-admin').hidden = !s.admin;
	$('logout').hidden = false;
	$('login').hidden = true;
	route();
}

function loggedOut() {
	setCsrf('');
	$('who').textContent = '';
	$('nav').hidden = true;
	$('logout').hidden = true;
	clear($('main')).append($('login') || loginForm());
	$('login').hidden = false;
}

let loginEl = null;
function loginForm() { return loginEl; }

// #/nodes?offset=0&profile=...: the page and its arguments
function parseHash() {
	const h = location.hash.replace(/^#\/?/, '');
	const [path, q] = h.split('?');
	const [page, arg] = path.split('/');
	return { page: page || 'nodes', arg, q: new URLSearchParams(q || '') };
}

const pages = {
	nodes: nodesPage, reservations: resvPage, deployments: depsPage,
	deployment: deployPage, chart: chartPage, images: imagesPage,
	jobs: jobsPage, docs: docsPage, admin: adminPage,
	console: consolePage, packages: packagesPage,
};

export async function route() {
	if (!session.user) return;
	const { page, arg, q } = parseHash();
	const main = clear($('main'));
	const fn = pages[page];
	document.title = `pipol: ${page}`;
	if (!fn) { showError(`no page ${page}`); return; }
	await act(() => fn(main, arg, q));
}

// Nodes: a page of them, filtered on the server
async function nodesPage(main, arg, q) {
	const limit = Math.min(Number(q.get('limit')) || 20, 500);
	const offset = Math.max(Number(q.get('offset')) || 0, 0);
	const profile = q.get('profile') || '', state = q.get('state') || '';
	const args = new URLSearchParams({ offset, limit });
	if (profile) args.set('profile', profile);
	if (state) args.set('state', state);
	const r = await api('GET', `/api/nodes?${args}`);
	const go = (o) => {
		const a = new URLSearchParams({ offset: o, limit });
		if (profSel.value) a.set('profile', profSel.value);
		if (stateSel.value) a.set('state', stateSel.value);
		location.hash = `#/nodes?${a}`;
	};
	const opts = (list, cur) => list.map(v => el('option',
	    { value: v, selected: v === cur }, v || 'any'));
	const profSel = el('select', { id: 'f-profile', onchange: () => go(0) },
	    opts(['', 'pc-bios', 'uefi', 'netboot-only', 'virtual',
	    'mac-efi32'], profile));
	const stateSel = el('select', { id: 'f-state', onchange: () => go(0) },
	    opts(['', 'free', 'reserved', 'deploying'], state));
	const rows = r.nodes.map(n => el('tr', { class: n.mine ? 'mine' : '',
	    'data-node': n.name },
	    el('td', {}, n.name, n.mine || session.admin ? [' ', el('a',
	    { href: `#/console/${encodeURIComponent(n.name)}`, class: 'console-link' },
	    'console')] : ''), el('td', {}, n.profile),
	    el('td', {}, n.power), el('td', { class: 'state' }, n.state),
	    el('td', {}, n.holder || ''), el('td', {}, when(n.ends)),
	    el('td', {}, n.deployment ? el('a',
	    { href: `#/deployment/${n.deployment}` }, `#${n.deployment}`) : '',
	    ' ', n.image || ''),
	    el('td', {}, n.deployment_state || '')));
	const last = Math.min(offset + limit, r.total);
	main.append(el('h1', {}, 'Nodes'),
	    el('div', { class: 'filters' }, 'Profile ', profSel, ' State ',
	    stateSel),
	    table(['node', 'profile', 'power', 'state', 'holder', 'until',
	    'deployment', 'its state'], rows),
	    el('div', { class: 'pager' },
	    el('button', { id: 'prev', disabled: offset === 0,
	    onclick: () => go(Math.max(offset - limit, 0)) }, '‹ previous'),
	    el('span', { id: 'range' }, ` ${r.total ? offset + 1 : 0}–${last}` +
	    ` of ${r.total} `),
	    el('button', { id: 'next', disabled: last >= r.total,
	    onclick: () => go(offset + limit) }, 'next ›')));
}

function field(label, input) { return el('label', {}, label, input); }

function nodeList(s) {
	return s.split(/[\s,]+/).filter(Boolean);
}

// Reservations: the forms, and one's own with extend and release
async function resvPage(main) {
	const [rs, qs, im] = await Promise.all([api('GET', '/api/reservations'),
	    api('GET', '/api/queues').catch(() => ({ queues: [] })),
	    api('GET', '/api/images').catch(() => ({ images: [] }))]);
	const f = {
		nodes: el('input', { id: 'r-nodes', placeholder: 'n1,n2' }),
		count: el('input', { id: 'r-count', type: 'number', min: 1 }),
		profile: el('input', { id: 'r-profile', placeholder: 'any' }),
		at: el('input', { id: 'r-at', type: 'datetime-local' }),
		hours: el('input', { id: 'r-hours', type: 'number', min: 0.1,
		    step: 'any', value: 1 }),
		queue: el('select', { id: 'r-queue' }, (qs.queues || []).map(q =>
		    el('option', { value: q.name }, q.name))),
		asap: el('input', { id: 'r-asap', type: 'checkbox' }),
	};
	const reserve = el('form', { class: 'inline', id: 'reserve',
	    onsubmit: (ev) => { ev.preventDefault(); act(async () => {
		const b = { seconds: Math.round(Number(f.hours.value) * 3600) };
		if (f.nodes.value.trim()) b.nodes = nodeList(f.nodes.value);
		else b.count = Number(f.count.value) || 1;
		if (f.profile.value.trim()) b.profile = f.profile.value.trim();
		if (f.queue.value) b.queue = f.queue.value;
		if (f.asap.checked) b.asap = true;
		else if (f.at.value) b.at = new Date(f.at.value).toISOString();
		await api('POST', '/api/reservations', b);
		await route();
	}); } },
	    field('Nodes', f.nodes), field('or a count', f.count),
	    field('Profile', f.profile), field('At (empty: now)', f.at),
	    field('Hours', f.hours), field('Queue', f.queue),
	    field('As soon as possible', f.asap),
	    el('button', { type: 'submit' }, 'Reserve'));
	const images = (im.images || []).map(i => i.name || i);
	const d = {
		nodes: el('input', { id: 'd-nodes', placeholder: 'n1,n2' }),
		image: el('input', { id: 'd-image', list: 'd-images' }),
		resv: el('input', { id: 'd-resv', type: 'number', min: 1 }),
	};
	const deploy = el('form', { class: 'inline', id: 'deploy',
	    onsubmit: (ev) => { ev.preventDefault(); act(async () => {
		const b = { nodes: nodeList(d.nodes.value), image: d.image.value };
		if (d.resv.value) b.reservation = Number(d.resv.value);
		const r = await api('POST', '/api/deployments', b);
		location.hash = '#/deployment/' +
		    r.deployments.map(x => x.id).join(',');
	}); } },
	    field('Nodes', d.nodes), field('Image', d.image),
	    el('datalist', { id: 'd-images' }, images.map(n =>
	    el('option', { value: n }))),
	    field('Reservation (empty: yours)', d.resv),
	    el('button', { type: 'submit' }, 'Deploy'));
	const rows = rs.reservations.map(r => {
		const ext = el('input', { type: 'number', min: 0.1, step: 'any',
		    value: 1, class: 'ext-hours', size: 4 });
		const live = ['running', 'waiting', 'queued'].includes(r.state);
		return el('tr', { 'data-resv': r.id },
		    el('td', {}, r.id), el('td', {}, r.user || ''),
		    el('td', {}, r.queue || ''), el('td', { class: 'state' },
		    r.state), el('td', {}, (r.nodes || []).join(' ') ||
		    (r.count ? `${r.count} nodes` : '')),
		    el('td', {}, when(r.start)), el('td', { class: 'end' },
		    when(r.end)),
		    el('td', {}, live ? [ext, el('button', { class: 'extend',
		    onclick: () => act(async () => {
			await api('POST', `/api/reservations/${r.id}/extend`,
			    { seconds: Math.round(Number(ext.value) * 3600) });
			await route();
		    }) }, 'extend'), ' ', el('button', { class: 'release',
		    onclick: () => act(async () => {
			await api('POST', `/api/reservations/${r.id}/release`);
			await route();
		    }) }, 'release')] : ''));
	});
	main.append(el('h1', {}, 'Reserve'), reserve, el('h1', {}, 'Deploy'),
	    deploy, el('h1', {}, 'Your reservations'),
	    table(['id', 'user', 'queue', 'state', 'nodes', 'from', 'until',
	    ''], rows));
}

// Deployments: one's own (admins: all), newest first
async function depsPage(main) {
	const r = await api('GET', '/api/deployments');
	const rows = r.deployments.map(d => el('tr', { 'data-dep': d.id },
	    el('td', {}, el('a', { href: `#/deployment/${d.id}` }, d.id)),
	    el('td', {}, d.node), el('td', {}, d.user || ''),
	    el('td', {}, d.image), el('td', { class: `state-${d.state}` },
	    d.state), el('td', { class: 'reason' }, d.reason || ''),
	    el('td', {}, when(d.updated))));
	main.append(el('h1', {}, 'Deployments'), table(['id', 'node', 'user',
	    'image', 'state', 'reason', 'updated'], rows));
}

async function start() {
	loginEl = $('login');
	$('login').addEventListener('submit', (ev) => {
		ev.preventDefault();
		act(async () => {
			const s = await api('POST', '/api/web/login',
			    { token: $('token').value.trim() });
			$('token').value = '';
			loggedIn(s);
		});
	});
	$('logout').addEventListener('click', () => act(async () => {
		await api('POST', '/api/web/logout');
		session.user = '';
		loggedOut();
	}));
	window.addEventListener('hashchange', route);
	try {
		loggedIn(await api('GET', '/api/web/session'));
	} catch (e) {
		loggedOut();
	}
}

start();
