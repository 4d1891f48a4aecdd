// tilecheck reads xbus's public log as a C2SP tlog-tiles client with Go's own implementation
// (golang.org/x/mod/sumdb/note and sumdb/tlog), which shares no code with xbus: it fetches
// <url>/checkpoint, opens it with the log's verifier key (note.Open), reads hash tiles from
// <url>/tile/<L>/<N>[.p/<W>] through tlog.TileHashReader (which checks every tile it loads against
// the checkpoint's tree) and requires tlog.TreeHash over them to be the checkpoint's root. It then
// proves the last leaf's inclusion from the tiles (tlog.ProveRecord, tlog.CheckRecord) and, given an
// earlier size and root, the tree's consistency with it (tlog.ProveTree, tlog.CheckTree).
// Usage: tilecheck <vkey> <url> [<earlier size> <earlier root, base64>].
// It prints "ok <origin> <size> <root base64> <tiles read>" and exits 0, or prints the failure and exits 1.
package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func hashOf(b64 string) tlog.Hash {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != len(h) {
		fail("not a base64 hash: %q", b64)
	}
	copy(h[:], raw)
	return h
}

func get(url string) []byte {
	res, err := http.Get(url)
	if err != nil {
		fail("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		fail("GET %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		fail("GET %s: HTTP %d %s", url, res.StatusCode, body)
	}
	return body
}

// tiles reads tiles over HTTP. Go names a tile "tile/8/<L>/<N>[.p/<W>]" (the sumdb layout, with the
// tile height); C2SP tlog-tiles drops the height: "tile/<L>/<N>[.p/<W>]".
type tiles struct {
	url  string
	read int
}

func (r *tiles) Height() int { return 8 }

func (r *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		path := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		out[i] = get(r.url + "/" + path)
		r.read++
	}
	return out, nil
}

func (r *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 5 {
		fail("usage: tilecheck <vkey> <url> [<earlier size> <earlier root base64>]")
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fail("vkey: %v", err)
	}
	url := strings.TrimSuffix(os.Args[2], "/")
	n, err := note.Open(get(url+"/checkpoint"), note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	body := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(body) < 3 || body[0] != verifier.Name() {
		fail("not a checkpoint of %q: %q", verifier.Name(), n.Text)
	}
	size, err := strconv.ParseInt(body[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	tree := tlog.Tree{N: size, Hash: hashOf(body[2])}
	tr := &tiles{url: url}
	hr := tlog.TileHashReader(tree, tr)
	root, err := tlog.TreeHash(size, hr)
	if err != nil {
		fail("tlog.TreeHash: %v", err)
	}
	if root != tree.Hash {
		fail("tlog.TreeHash from tiles is %s, the checkpoint's root %s", root, tree.Hash)
	}
	if size > 0 {
		last := size - 1
		leaves, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, last)})
		if err != nil {
			fail("the last leaf's hash: %v", err)
		}
		proof, err := tlog.ProveRecord(size, last, hr)
		if err != nil {
			fail("tlog.ProveRecord: %v", err)
		}
		if err := tlog.CheckRecord(proof, size, tree.Hash, last, leaves[0]); err != nil {
			fail("tlog.CheckRecord: %v", err)
		}
	}
	if len(os.Args) == 5 {
		old, err := strconv.ParseInt(os.Args[3], 10, 64)
		if err != nil || old < 0 || old > size {
			fail("earlier size %q is not 0..%d", os.Args[3], size)
		}
		proof, err := tlog.ProveTree(size, old, hr)
		if err != nil {
			fail("tlog.ProveTree: %v", err)
		}
		if err := tlog.CheckTree(proof, size, tree.Hash, old, hashOf(os.Args[4])); err != nil {
			fail("tlog.CheckTree: %v", err)
		}
	}
	fmt.Printf("ok %s %d %s %d\n", body[0], size, body[2], tr.read)
}
