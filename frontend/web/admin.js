// admin.js -- the Admin page (admins only; pipold refuses the rest
// anyway): add, set and power the nodes, add a user and make a user a
// new token (each token shown once, here), queues, licences, and the
// images' versions (validate, promote, rollback). Each action is the
// admin API's (docs/admin.md).
import { api } from './api.js';
import { el, table, when } from './dom.js';
import { act, route, session } from './app.js';

function form(id, fields, label, submit) {
	return el('form', { class: 'inline', id, onsubmit: (ev) => {
		ev.preventDefault();
		act(() => submit(Object.fromEntries(Object.entries(fields)
		    .map(([k, e]) => [k, e.type === 'checkbox' ? e.checked :
		    e.value.trim()]))));
	} }, Object.entries(fields).map(([k, e]) => el('label', {}, k, e)),
	    el('button', { type: 'submit' }, label));
}

const input = (id, attrs) => el('input', { id, ...attrs });

export async function adminPage(main) {
	if (!session.admin) throw new Error('admins only');
	const [nodes, queues, images, licences] = await Promise.all([
	    api('GET', '/api/nodes?limit=500'), api('GET', '/api/queues'),
	    api('GET', '/api/images'), api('GET', '/api/licences')]);
	const tokenOut = el('p', { id: 'a-token' });
	const power = (n, a) => el('button', { class: `power-${a}`,
	    onclick: () => act(async () => {
		const r = await api('POST', `/api/nodes/${n}/power`,
		    { action: a });
		tokenOut.textContent = `${n}: ${a}: ${JSON.stringify(r)}`;
	    }) }, a);
	main.append(el('h1', {}, 'Nodes'),
	    form('a-node', { name: input('a-n-name'), mac: input('a-n-mac'),
	    profile: input('a-n-profile', { value: 'pc-bios' }),
	    ip: input('a-n-ip'), power_driver: input('a-n-power',
	    { value: 'manual' }) }, 'Add node', async (f) => {
		const b = { name: f.name, mac: f.mac, profile: f.profile,
		    power_driver: f.power_driver };
		if (f.ip) b.ip = f.ip;
		await api('POST', '/api/nodes', b);
		await route();
	    }),
	    form('a-set', { node: input('a-s-name'), bootenv: input('a-s-env',
	    { placeholder: 'cloud, generic' }), wipe: el('select',
	    { id: 'a-s-wipe' }, el('option', { value: '' }, 'as it is'),
	    el('option', { value: 'on' }, 'on'), el('option',
	    { value: 'off' }, 'off')) }, 'Set node', async (f) => {
		const path = `/api/nodes/${encodeURIComponent(f.node)}`;
		if (f.bootenv)
			await api('POST', path, { bootenv: f.bootenv });
		if (f.wipe)
			await api('POST', path, { wipe: f.wipe === 'on' });
		await route();
	    }),
	    table(['node', 'profile', 'power', 'state', 'holder', ''],
	    nodes.nodes.map(n => el('tr', {}, el('td', {}, n.name),
	    el('td', {}, n.profile), el('td', {}, n.power),
	    el('td', {}, n.state), el('td', {}, n.holder || ''),
	    el('td', {}, ['on', 'off', 'reset', 'cycle'].map(a =>
	    power(n.name, a)))))),
	    el('h1', {}, 'Users'),
	    form('a-user', { name: input('a-u-name'), admin: input('a-u-admin',
	    { type: 'checkbox' }) }, 'Add user', async (f) => {
		const r = await api('POST', '/api/users', { name: f.name,
		    admin: f.admin });
		tokenOut.textContent = `${f.name}'s token, shown once: ` +
		    `${r.token}`;
	    }),
	    form('a-tok', { user: input('a-t-user'), name: input('a-t-name',
	    { placeholder: 'laptop' }) }, 'New token', async (f) => {
		const b = {};
		if (f.name) b.name = f.name;
		const r = await api('POST', '/api/tokens?user=' +
		    encodeURIComponent(f.user), b);
		tokenOut.textContent = `${r.user}'s new token ${r.name}, ` +
		    `shown once: ${r.token}`;
	    }), tokenOut,
	    el('h1', {}, 'Queues'),
	    form('a-queue', { name: input('a-q-name'), max_nodes: input(
	    'a-q-nodes', { type: 'number', value: 8 }), hours: input('a-q-hours',
	    { type: 'number', value: 24 }) }, 'Add queue', async (f) => {
		await api('POST', '/api/queues', { name: f.name, max_nodes:
		    Number(f.max_nodes), max_seconds: Number(f.hours) * 3600 });
		await route();
	    }),
	    table(['queue', 'max nodes', 'max hours', 'hours', 'priority'],
	    queues.queues.map(q => el('tr', {}, el('td', {}, q.name),
	    el('td', {}, q.max_nodes), el('td', {}, q.max_seconds / 3600),
	    el('td', {}, q.hours_from ? `${q.hours_from}–${q.hours_to}` : 'any'),
	    el('td', {}, q.priority ?? '')))),
	    el('h1', {}, 'Licences'),
	    form('a-lic', { name: input('a-l-name'), total: input('a-l-total',
	    { type: 'number', value: 1 }) }, 'Add licence', async (f) => {
		await api('POST', '/api/licences', { name: f.name, total:
		    Number(f.total) });
		await route();
	    }),
	    table(['licence', 'total', 'used now'], licences.licences.map(l =>
	    el('tr', {}, el('td', {}, l.name), el('td', {}, l.total),
	    el('td', {}, l.used_now)))),
	    el('h1', {}, 'Images'),
	    table(['image', 'version', 'state', 'created', ''],
	    images.images.flatMap(i => (i.versions || []).map(v =>
	    el('tr', {}, el('td', {}, i.name), el('td', {}, v.version),
	    el('td', {}, v.state), el('td', {}, when(v.created * 1000)),
	    el('td', {}, ['validate', 'promote'].map(a => el('button', {
		onclick: () => act(async () => {
			await api('POST', `/api/images/${i.name}/${a}`,
			    { version: v.version });
			await route();
		}) }, a)), el('button', { onclick: () => act(async () => {
			await api('POST', `/api/images/${i.name}/rollback`);
			await route();
		}) }, 'rollback')))))));
}
