// dom.js -- building the page: every value goes in as text (textContent,
// attributes set one by one), never as markup; and a small markdown
// renderer for the manuals that does the same (no HTML passes through).
export function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') e.className = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const k of kids.flat()) {
		if (k === undefined || k === null || k === false) continue;
		e.append(k instanceof Node ? k : document.createTextNode(String(k)));
	}
	return e;
}

export function clear(e) { while (e.firstChild) e.firstChild.remove(); return e; }

export function table(heads, rows) {
	return el('table', {}, el('thead', {}, el('tr', {},
	    heads.map(h => el('th', {}, h)))), el('tbody', {}, rows));
}

export function when(t) {
	if (!t) return '';
	const d = new Date(t);
	return isNaN(d) ? String(t) : d.toLocaleString();
}

export function bytes(n) {
	n = Number(n) || 0;
	const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
	return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

// inline: `code`, **bold**, *em*, [text](url) with http(s) or # urls only
function inline(text) {
	const out = [];
	const re = /(`[^`]+`|\*\*[^*]+\*\*|\*[^*\s][^*]*\*|\[[^\]]+\]\([^)\s]+\))/;
	let rest = text;
	for (;;) {
		const m = rest.match(re);
		if (!m) { out.push(rest); break; }
		out.push(rest.slice(0, m.index));
		const t = m[0];
		if (t[0] === '`') out.push(el('code', {}, t.slice(1, -1)));
		else if (t.startsWith('**')) out.push(el('strong', {}, t.slice(2, -2)));
		else if (t[0] === '*') out.push(el('em', {}, t.slice(1, -1)));
		else {
			const [, label, url] = t.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/);
			out.push(/^(https?:\/\/|#)/.test(url) ?
			    el('a', { href: url, rel: 'noreferrer' }, label) : label);
		}
		rest = rest.slice(m.index + t.length);
	}
	return out;
}

export function markdown(src) {
	const root = el('div', { class: 'doc' });
	const lines = src.split('\n');
	let i = 0, list = null, para = [];
	const flush = () => {
		if (para.length) root.append(el('p', {}, inline(para.join(' '))));
		para = [];
	};
	while (i < lines.length) {
		const l = lines[i];
		if (l.startsWith('```')) {
			flush(); list = null;
			const code = [];
			for (i++; i < lines.length && !lines[i].startsWith('```'); i++)
				code.push(lines[i]);
			root.append(el('pre', {}, el('code', {}, code.join('\n'))));
			i++;
			continue;
		}
		let m;
		if ((m = l.match(/^(#{1,4}) (.*)$/))) {
			flush(); list = null;
			root.append(el('h' + m[1].length, {}, inline(m[2])));
		} else if ((m = l.match(/^\s*[-*] (.*)$/))) {
			flush();
			if (!list) { list = el('ul'); root.append(list); }
			list.append(el('li', {}, inline(m[1])));
		} else if (l.trim() === '') {
			flush(); list = null;
		} else if (list && /^\s+\S/.test(l)) {
			list.lastChild.append(' ', ...inline(l.trim()));
		} else {
			list = null;
			para.push(l.trim());
		}
		i++;
	}
	flush();
	return root;
}
