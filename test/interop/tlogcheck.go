// tlogcheck verifies xbus's C2SP artefacts with Go's own implementation (golang.org/x/mod/sumdb/note
// and sumdb/tlog), which shares no code with xbus: it opens a tlog-proof's checkpoint with the log's
// verifier key (note.Open) and checks the proof's inclusion path from a leaf hash to the checkpoint's
// root (tlog.CheckRecord). Usage: tlogcheck <vkey> <tlog-proof file> <leaf hash, hex>.
// It prints "ok <origin> <size> <index>" and exits 0, or prints the failure and exits 1.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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

func main() {
	if len(os.Args) != 4 {
		fail("usage: tlogcheck <vkey> <tlog-proof file> <leaf hash hex>")
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fail("vkey: %v", err)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	// The tlog-proof: header, optional extra, index, proof lines, a blank line, the checkpoint.
	parts := bytes.SplitN(data, []byte("\n\n"), 2)
	if len(parts) != 2 {
		fail("no blank line in the tlog-proof")
	}
	lines := strings.Split(string(parts[0]), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		fail("not a c2sp.org/tlog-proof@v1")
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		fail("no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		fail("index: %v", err)
	}
	var proof tlog.RecordProof
	for _, l := range lines[1:] {
		proof = append(proof, hashOf(l))
	}

	n, err := note.Open(parts[1], note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	body := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(body) < 3 {
		fail("the checkpoint has fewer than three lines")
	}
	if body[0] != verifier.Name() {
		fail("origin %q is not the key's name %q", body[0], verifier.Name())
	}
	size, err := strconv.ParseInt(body[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	root := hashOf(body[2])

	leafRaw, err := hex.DecodeString(os.Args[3])
	var leaf tlog.Hash
	if err != nil || len(leafRaw) != len(leaf) {
		fail("the leaf hash is not 32 bytes of hex")
	}
	copy(leaf[:], leafRaw)
	if err := tlog.CheckRecord(proof, size, root, index, leaf); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}
	fmt.Printf("ok %s %d %d\n", body[0], size, index)
}
