# git: init, add, commit (fixed identity and dates, so hashes are fixed),
# branch, merge, log, gc, fsck in a temporary repository.
cd "$1" || exit 1
export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.invalid
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
export GIT_CONFIG_NOSYSTEM=1 HOME=$1
git init -q -b main repo && cd repo || exit 1
git config gc.auto 0
for c in $(seq 1 12); do
	mkdir -p "d$((c % 4))"
	awk -v c="$c" -v d="d$((c % 4))" 'BEGIN { for (f = 1; f <= 25; f++) {
		out = d "/file" f ".txt"
		for (i = c * f; i <= c * f + 300; i++) print i >out
		close(out) } }'
	git add -A && git commit -q -m "commit $c" || exit 1
done
git checkout -q -b side HEAD~5
echo side >side.txt && git add side.txt && git commit -q -m side
git checkout -q main
git merge -q --no-edit side || exit 1
git log --format='%H %s'
git log --stat --format=%h | md5sum
git gc -q && git fsck --no-progress 2>&1
git count-objects -v | grep -E '^(count|in-pack|packs)'
git rev-parse HEAD^{tree}
