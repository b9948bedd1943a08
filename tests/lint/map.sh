#!/bin/bash
# map.sh -- the map stays true: every file docs/architecture.md names
# exists, every source file is in its file map, every C file opens with
# a comment naming itself, and no opening comment or header names a
# source file that is gone.
. "$(dirname "$0")/../lib.sh"
cd "$TOP"
MAP=docs/architecture.md
files=$(git ls-files 2>/dev/null || find . -type f | sed 's|^\./||')
# generated at build time (frontend/build.mk)
generated="schema_sql.c ipxe_templates.c"
generated="$generated web_files_gen.c"	# web

exists() {	# exists NAME: a path of the tree, or the base name of one
	case $1 in
	*/*) printf '%s\n' "$files" | grep -qxF -- "$1" ;;
	*) case " $generated " in *" $1 "*) return 0 ;; esac
	   printf '%s\n' "$files" | grep -qE -- "(^|/)${1//./\\.}\$" ;;
	esac
}

bad=0
for n in $(grep -oE '[A-Za-z0-9_./-]+\.(c|h|sh|sql|mk|ipxe|md)\b' "$MAP" | sort -u); do
	n=${n#./}
	case ${n##*/} in _*|[A-Z]*) continue ;; esac	# a pattern: NAME_test.c
	exists "$n" || { echo "  $MAP names $n: no such file" >&2; bad=1; }
done
[ $bad -eq 0 ] && ok "every file $MAP names exists" || notok "every file $MAP names exists"

bad=0
for f in $(printf '%s\n' "$files" | grep -E '^(common|imagestore|frontend|frontend/cli|initrd)/[^/]+\.[ch]$|^(bootenv|ipxe|elilo|demo)/[^/]+$|^frontend/schema/[^/]+\.sql$|^tests/[a-z]+/$'); do
	grep -qF -- "\`$f\`" "$MAP" || { echo "  $f is not in the file map" >&2; bad=1; }
done
[ $bad -eq 0 ] && ok "every source file is in the file map" || notok "every source file is in the file map"

bad=0
for f in $(printf '%s\n' "$files" | grep -E '^(common|imagestore|frontend|frontend/cli|initrd|tests/unit|tests/tools|tests/fuzz)/[^/]+\.[ch]$'); do
	head -3 "$f" | grep -qF -- "$(basename "$f") --" ||
	    { echo "  $f: the opening comment does not name the file" >&2; bad=1; }
	for n in $(grep -E '^[[:space:]]*(/\*|\*|//)' "$f" | grep -oE '\b[a-z][a-z0-9_]*\.[ch]\b' | sort -u); do
		exists "$n" || { echo "  $f names $n: no such file" >&2; bad=1; }
	done
done
[ $bad -eq 0 ] && ok "C files name themselves and only files that exist" ||
    notok "C files name themselves and only files that exist"
