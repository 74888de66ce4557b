// Command pushgate receives WeChat pushes, stores each exactly once,
// dispatches it to handlers and answers within WeChat's budget.
//
//	pushgate serve [flags]              run the receiver (see --help)
//	pushgate send [--server URL] [NAME|FILE ...]   post signed sample pushes
//	pushgate events list [filters] [--json]        list stored events
//	pushgate replay --id ID | [filters]            run handlers again
//	pushgate deliveries list|retry ID              outbound notifications
//	pushgate tail [filters] [--json]               follow new events
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(runMain(os.Args[1:])) }

// runMain runs a command until it ends or SIGINT/SIGTERM asks it to stop,
// and returns the exit status.
func runMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, args, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
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
