package main

// fetch-inputs: the init container of a node-local step pod. Each input artifact lives on one or more nodes,
// each served by that node's artifact daemon. An input on this pod's node is copied straight from the node's
// store (a hostPath mounted read-only); any other is fetched as one tar stream from a peer daemon, verified
// against the SHA-256 trailer the daemon sends after the body, and retried from scratch (then the next
// source, a mirror) when the transfer fails. Output directories are made writable for the step's user.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// nodeLocalSource is one place an input can be read from: the node holding it and that node's daemon.
type nodeLocalSource struct{ node, url string }

type nodeLocalInput struct {
	handle, destination string
	sources             []nodeLocalSource
	token               string
}

type fetchOutcome struct {
	Handle   string `json:"handle"`
	How      string `json:"how"` // "local" or "fetched"
	Node     string `json:"node"`
	Attempts int    `json:"attempts"`
	Bytes    int64  `json:"bytes"`
}

// repeated collects a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func splitOnce(value, flagName string) (string, string, error) {
	i := strings.IndexByte(value, '=')
	if i <= 0 {
		return "", "", usageError{fmt.Sprintf("--%s %q: expected HANDLE=VALUE", flagName, value)}
	}
	return value[:i], value[i+1:], nil
}

func runFetchInputs(args []string) error {
	flags := flag.NewFlagSet("fetch-inputs", flag.ContinueOnError)
	to := flags.String("to", "", "where to install the helper binary (…/bin/jetbridge-helper)")
	nodeRoot := flags.String("node-root", "/.jetbridge-node", "this node's artifact store, mounted read-only")
	attempts := flags.Int("attempts", 4, "attempts per source of a fetched input")
	parallel := flags.Int("parallel", 8, "files copied at once (local inputs)")
	caFile := flags.String("ca", "", "CA certificate of the daemons (https)")
	var inputFlags, sourceFlags, tokenFlags, writable repeated
	flags.Var(&inputFlags, "input", "HANDLE=DESTINATION (repeatable)")
	flags.Var(&sourceFlags, "source", "HANDLE=NODE=URL, in order of preference (repeatable)")
	flags.Var(&tokenFlags, "token", "HANDLE=CAPABILITY (repeatable)")
	flags.Var(&writable, "writable", "an output directory to create and make writable (repeatable)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *to != "" {
		if !filepath.IsAbs(*to) {
			return usageError{"fetch-inputs needs an absolute --to"}
		}
		if err := installHelper(*to); err != nil {
			return err
		}
	}
	for _, dir := range writable {
		// Parents too: the step may run as any user and write below a nested output path.
		if err := makeWritableDirectory(dir); err != nil {
			return err
		}
	}

	inputs := map[string]*nodeLocalInput{}
	var order []string
	for _, value := range inputFlags {
		handle, destination, err := splitOnce(value, "input")
		if err != nil {
			return err
		}
		if !filepath.IsAbs(destination) {
			return usageError{fmt.Sprintf("--input %q: the destination must be absolute", value)}
		}
		inputs[handle] = &nodeLocalInput{handle: handle, destination: filepath.Clean(destination)}
		order = append(order, handle)
	}
	for _, value := range sourceFlags {
		handle, rest, err := splitOnce(value, "source")
		if err != nil {
			return err
		}
		node, url, err := splitOnce(rest, "source")
		if err != nil {
			return err
		}
		if input := inputs[handle]; input != nil {
			input.sources = append(input.sources, nodeLocalSource{node, strings.TrimRight(url, "/")})
		}
	}
	for _, value := range tokenFlags {
		handle, token, err := splitOnce(value, "token")
		if err != nil {
			return err
		}
		if input := inputs[handle]; input != nil {
			input.token = token
		}
	}

	client, err := daemonHTTPClient(*caFile)
	if err != nil {
		return err
	}
	thisNode := os.Getenv("NODE_NAME")
	started := time.Now()
	outcomes := make([]fetchOutcome, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 4)
	for i, handle := range order {
		wg.Add(1)
		go func(i int, input *nodeLocalInput) {
			defer wg.Done()
			limit <- struct{}{}
			defer func() { <-limit }()
			outcomes[i], errs[i] = fetchOne(client, input, thisNode, *nodeRoot, *attempts, *parallel)
		}(i, inputs[handle])
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var total int64
	for _, outcome := range outcomes {
		total += outcome.Bytes
	}
	report, _ := json.Marshal(map[string]any{
		"jetbridgeNodeLocalInputs": map[string]any{
			"node":       thisNode,
			"inputs":     outcomes,
			"bytes":      total,
			"durationMs": time.Since(started).Milliseconds(),
		},
	})
	fmt.Println(string(report))
	return nil
}

func daemonHTTPClient(caFile string) (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", caFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// No overall timeout (artifacts can be big); a daemon that stops sending is cut by the header timeout
	// and, mid-body, by the connection dropping when the daemon restarts.
	transport.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: transport}, nil
}

func fetchOne(client *http.Client, input *nodeLocalInput, thisNode, nodeRoot string, attempts, parallel int) (fetchOutcome, error) {
	outcome := fetchOutcome{Handle: input.handle}
	// On this node: a plain local copy (the daemon wrote meta/<handle>.json last, so it marks a complete artifact).
	for _, source := range input.sources {
		if source.node != thisNode || thisNode == "" {
			continue
		}
		data := filepath.Join(nodeRoot, "data", input.handle)
		if _, err := os.Stat(filepath.Join(nodeRoot, "meta", input.handle+".json")); err != nil {
			break
		}
		stats, err := copyTrees([]copyPair{{data, input.destination}}, parallel)
		if err != nil {
			return outcome, fmt.Errorf("input %s: local copy on node %s failed: %w", input.handle, thisNode, err)
		}
		outcome.How, outcome.Node, outcome.Attempts, outcome.Bytes = "local", thisNode, 1, stats.bytes
		return outcome, nil
	}
	var failures []string
	for _, source := range input.sources {
		delay := 200 * time.Millisecond
		for attempt := 1; attempt <= attempts; attempt++ {
			outcome.Attempts++
			bytes, err := fetchTar(client, source.url+"/artifacts/"+input.handle, input.token, input.destination)
			if err == nil {
				outcome.How, outcome.Node, outcome.Bytes = "fetched", source.node, bytes
				return outcome, nil
			}
			failures = append(failures, fmt.Sprintf("node %s attempt %d: %v", source.node, attempt, err))
			var refused refusedError
			if errors.As(err, &refused) {
				break // the daemon answered: retrying the same request cannot help
			}
			time.Sleep(delay)
			delay *= 2
		}
	}
	if len(input.sources) == 0 {
		failures = append(failures, "no node holds it")
	}
	return outcome, fmt.Errorf("input %s could not be fetched: %s", input.handle, strings.Join(failures, "; "))
}

// refusedError: the daemon answered with an error status (not found, forbidden…).
type refusedError struct {
	status int
	body   string
}

func (e refusedError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// fetchTar empties `destination`, then streams the artifact into it through `tar-in` (the same extraction
// rules as every other tar JetBridge writes into a pod), hashing what arrived; the result counts only if the
// daemon's trailer says the same.
func fetchTar(client *http.Client, url, token, destination string) (int64, error) {
	if err := emptyDirectory(destination); err != nil {
		return 0, err
	}
	request, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	request.Header.Set("Authorization", "Bearer "+token)
	response, err := client.Do(request)
	if err != nil {
		return 0, err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(response.Body, 4096))
		return 0, refusedError{response.StatusCode, strings.TrimSpace(string(body))}
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	extract := exec.Command(self, "tar-in", "--dir", destination)
	var stderr strings.Builder
	extract.Stderr = &stderr
	stdin, err := extract.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := extract.Start(); err != nil {
		return 0, err
	}
	hash := sha256.New()
	counted := &countingReader{reader: io.TeeReader(response.Body, hash)}
	_, copyErr := io.Copy(stdin, counted)
	stdin.Close()
	waitErr := extract.Wait()
	if copyErr != nil && !errors.Is(copyErr, os.ErrClosed) && !strings.Contains(copyErr.Error(), "broken pipe") {
		return counted.bytes, fmt.Errorf("transfer interrupted after %d bytes: %w", counted.bytes, copyErr)
	}
	// tar-in stops at the end-of-archive marker: read the rest (padding) so the trailer arrives.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return counted.bytes, fmt.Errorf("transfer interrupted after %d bytes: %w", counted.bytes, err)
	}
	if waitErr != nil {
		return counted.bytes, fmt.Errorf("extraction failed: %s", strings.TrimSpace(stderr.String()))
	}
	expected := response.Trailer.Get("X-Jetbridge-Sha256")
	if expected == "" {
		return counted.bytes, fmt.Errorf("transfer ended without its checksum after %d bytes (the daemon stopped)", counted.bytes)
	}
	if actual := hex.EncodeToString(hash.Sum(nil)); actual != expected {
		return counted.bytes, fmt.Errorf("checksum mismatch: got %s, the daemon sent %s", actual, expected)
	}
	return counted.bytes, nil
}

func emptyDirectory(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if err := os.RemoveAll(filepath.Join(dir, entry.Name())); err != nil {
			return err
		}
	}
	return nil
}
