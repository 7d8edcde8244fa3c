//! The Examples section of every `--help`, kept in one table and added to the
//! clap command tree at start-up (a test checks that no command lacks one).

use clap::{Command, CommandFactory};

use crate::cli::Cli;

/// The command line with an Examples section on every command.
pub fn command() -> Command {
    with_examples(Cli::command(), "")
}

fn with_examples(mut cmd: Command, path: &str) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let sub = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |s| with_examples(s, &sub));
    }
    if let Some(text) = examples(path) {
        let after = match cmd.get_after_help() {
            Some(rest) => format!("Examples:\n{text}\n\n{rest}"),
            None => format!("Examples:\n{text}"),
        };
        cmd = cmd.after_help(after);
    }
    cmd
}

/// The examples of the command at `path` (`""` for `granary` itself).
fn examples(path: &str) -> Option<&'static str> {
    Some(match path {
        "" => {
            "  granary login\n  granary push ./my-model alice/my-model --license apache-2.0\n  granary pull alice/my-model -o ./copy"
        }
        "login" => {
            "  granary login\n  echo \"$TOKEN\" | granary --endpoint https://granary.example login"
        }
        "logout" => "  granary logout",
        "whoami" => "  granary whoami\n  granary whoami --json",
        "push" => {
            "  granary push ./my-model alice/my-model --license apache-2.0\n  granary push ./readme-only alice/my-model -m \"Better card\"\n  granary push ./my-model alice/my-model --sync --tag v1.0"
        }
        "pull" => {
            "  granary pull alice/my-model\n  granary pull alice/my-model:v1.0 -o ./v1 --include '*.json'\n  granary pull alice/my-model@3f2a9c1b0d4e --link\n  granary pull alice/my-model --trusted-key granary.pub"
        }
        "info" => "  granary info alice/my-model\n  granary info alice/my-model:v1.0 --json",
        "ls" => "  granary ls\n  granary ls alice --sort size --limit 10",
        "log" => "  granary log alice/my-model\n  granary log alice/my-model:dev -n 5 --json",
        "tag" => "  granary tag add alice/my-model main v1.0\n  granary tag ls alice/my-model",
        "tag add" => {
            "  granary tag add alice/my-model main v1.0\n  granary tag add alice/my-model 3f2a9c1b0d4e v1.0 --force"
        }
        "tag ls" => "  granary tag ls alice/my-model\n  granary tag ls alice/my-model --json",
        "tag rm" => "  granary tag rm alice/my-model v1.0",
        "branch" => {
            "  granary branch create alice/my-model dev\n  granary branch ls alice/my-model"
        }
        "branch create" => {
            "  granary branch create alice/my-model dev\n  granary branch create alice/my-model fix --from v1.0"
        }
        "branch ls" => "  granary branch ls alice/my-model",
        "branch rm" => "  granary branch rm alice/my-model dev",
        "search" => "  granary search llama\n  granary search bert --license apache-2.0 --json",
        "cache" => "  granary cache ls\n  granary cache rm alice/my-model",
        "cache ls" => "  granary cache ls\n  granary cache ls --json",
        "cache rm" => "  granary cache rm alice/my-model\n  granary cache rm alice/my-model:v1.0",
        "cache verify" => "  granary cache verify",
        "cache prune" => "  granary cache prune\n  granary cache prune --unlinked",
        "repo" => {
            "  granary repo create alice/new --private\n  granary repo settings alice/new --public"
        }
        "repo create" => {
            "  granary repo create alice/new\n  granary repo create alice/new --private --gated"
        }
        "repo settings" => {
            "  granary repo settings alice/my-model\n  granary repo settings alice/my-model --public --ungated"
        }
        "repo delete" => "  granary repo delete alice/old\n  granary repo delete alice/old --yes",
        "token" => "  granary token create --scope read\n  granary token ls",
        "token create" => {
            "  export GRANARY_TOKEN=$(granary token create --scope read)\n  granary token create --owner acme --expires-days 30 --name ci"
        }
        "token ls" => "  granary token ls\n  granary token ls --json",
        "token revoke" => "  granary token revoke 01J9ZK3V7Q",
        "org" => "  granary org create acme\n  granary org add-member acme bob --role write",
        "org create" => "  granary org create acme",
        "org add-member" => "  granary org add-member acme bob --role write",
        "org remove-member" => "  granary org remove-member acme bob",
        "org members" => "  granary org members acme --json",
        "license" => "  granary license accept alice/gated-model",
        "license accept" => "  granary license accept alice/gated-model",
        "webhook" => {
            "  granary webhook add alice https://ci.example/hook --event revision.published\n  granary webhook ls alice"
        }
        "webhook add" => {
            "  granary webhook add alice/my-model https://ci.example/hook\n  granary webhook add acme https://ci.example/hook --event revision.published"
        }
        "webhook ls" => "  granary webhook ls alice/my-model",
        "webhook rm" => "  granary webhook rm alice/my-model 01J9ZK3V7Q",
        "webhook test" => "  granary webhook test alice/my-model 01J9ZK3V7Q",
        "webhook deliveries" => "  granary webhook deliveries alice/my-model 01J9ZK3V7Q --json",
        "key" => "  granary key > granary.pub\n  granary key --json",
        "signature" => {
            "  granary signature alice/my-model -o sig.json\n  model_signing verify key ./my-model --signature sig.json --public_key granary.pub"
        }
        "verify-attestation" => {
            "  granary verify-attestation alice/my-model\n  granary verify-attestation alice/my-model:v1.0 --json"
        }
        "completions" => {
            "  granary completions bash > ~/.local/share/bash-completion/completions/granary\n  granary completions zsh > \"${fpath[1]}/_granary\"\n  granary completions fish > ~/.config/fish/completions/granary.fish"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(cmd: &Command, path: &str, out: &mut Vec<String>) {
        if examples(path).is_none() {
            out.push(path.to_string());
        }
        for s in cmd.get_subcommands() {
            let sub = if path.is_empty() {
                s.get_name().to_string()
            } else {
                format!("{path} {}", s.get_name())
            };
            missing(s, &sub, out);
        }
    }

    #[test]
    fn every_command_has_examples() {
        let mut out = Vec::new();
        missing(&Cli::command(), "", &mut out);
        assert!(out.is_empty(), "commands without examples: {out:?}");
        command().debug_assert();
    }
}
