package pushgate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushgate/pushgate/events"
)

// Main runs the pushgate command line with mux's handlers and exits:
//
//	pushgate serve [flags]              run the receiver (see --help)
//	pushgate send [--server URL] [NAME|FILE ...]   post signed sample pushes
//	pushgate events list [filters] [--json]        list stored events
//	pushgate replay --id ID | [filters]            run handlers again
//	pushgate deliveries list|retry ID              outbound notifications
//	pushgate tail [filters] [--json]               follow events as they arrive
//
// SIGINT and SIGTERM stop the command (serve shuts down gracefully); the
// exit status is 1 when it failed.
func Main(mux *events.Mux) { os.Exit(runMain(mux, os.Args[1:])) }

// Command runs one command of the command line, args as after the program
// name (e.g. "serve", "--addr", ":8080"), writing to stdout and stderr,
// until it ends or ctx does. It is what Main runs, without the signals and
// the exit: for a program that wraps the command line, or a test of one.
func Command(ctx context.Context, mux *events.Mux, args []string, stdout, stderr io.Writer) error {
	return run(ctx, mux, args, stdout, stderr)
}

// runMain runs a command until it ends or SIGINT/SIGTERM asks it to stop,
// and returns the exit status.
func runMain(mux *events.Mux, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, mux, args, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pushgate:", err)
		return 1
	}
	return 0
}

const usage = `usage: pushgate <command> [arguments]

commands:
  serve        run the receiver (settings: flags > PUSHGATE_* env > --config FILE > defaults)
  send         post signed sample pushes (fixtures or files) to a server
  events list  list stored events through the admin API
  replay       dispatch stored events again through the admin API
  deliveries   list or retry outbound notifications through the admin API
  tail         follow stored events as they arrive (the API's /v1/stream)
`

func run(ctx context.Context, mux *events.Mux, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, mux, rest, stdout, stderr)
	case "send":
		return runSend(ctx, rest, stdout, stderr)
	case "events":
		if len(rest) == 0 || rest[0] != "list" {
			return errors.New("usage: pushgate events list [--event E] [--status S] ... [--json]")
		}
		return runEventsList(ctx, rest[1:], stdout, stderr)
	case "replay":
		return runReplay(ctx, rest, stdout, stderr)
	case "deliveries":
		return runDeliveries(ctx, rest, stdout, stderr)
	case "tail":
		return runTail(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
