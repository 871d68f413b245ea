"""The built-in agent table (ARCHITECTURE.md's agent table, as data)."""

from __future__ import annotations

from omniroute.bridge.agent_spec import (
    GENERIC_MODEL_CALLS,
    NODE_EXTRA_CA_CERTS,
    SSL_CERT_FILE,
    WS_UPGRADE,
    AgentSpec,
    ModelCallRule,
    post,
)
from omniroute.translate.formats import WireFormat

# What Zed's hosted service offers that a routed call cannot; `omniroute.bridge.zed` has the
# protocol details and sources.
ZED_LIMITS = (
    ("Zed's OpenAI WebSocket session (/completions/session) is refused while Zed has mappings, "
     "so Zed uses its HTTP /completions fallback, which is routed."),
    ("Token counting (/count_tokens), context compaction (/completions/compact), the model list "
     "(/models) and edit predictions go to Zed's own service unchanged: the engine has no "
     "equivalent of these Zed endpoints."),
    "Routed replies carry no Zed plan or usage headers: Zed reads them as optional.",
)

# What a routed Gemini CLI still takes from Google.
GEMINI_CLI_LIMITS = (
    ("Google-login mode (Code Assist, cloudcode-pa.googleapis.com) is routed like API-key mode, "
     "but its sign-in and set-up calls (loadCodeAssist, onboardUser, quota, experiments) pass "
     "through to Google unchanged: it still needs a signed-in Google account and the network."),
    ("countTokens calls pass through to Google unchanged: Gemini CLI makes them only for images "
     "and files, and estimates locally when they fail."),
)

BUILTIN_AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(
        id="claude-code", name="Claude Code", hosts=("api.anthropic.com",),
        wire_formats=(WireFormat.ANTHROPIC,), routable=True, env=(NODE_EXTRA_CA_CERTS,),
        # /v1/messages/count_tokens and /api/claude_code/settings are not generations.
        model_calls=(post("/v1/messages", WireFormat.ANTHROPIC),),
        user_agents=("claude-cli/", "claude-code/"),
    ),
    AgentSpec(
        id="codex", name="Codex", hosts=("api.openai.com", "chatgpt.com"),
        wire_formats=(WireFormat.OPENAI_RESPONSES, WireFormat.OPENAI_CHAT), routable=True, env=(SSL_CERT_FILE,),
        model_calls=(
            post("/v1/responses", WireFormat.OPENAI_RESPONSES),
            post("/backend-api/codex/responses", WireFormat.OPENAI_RESPONSES),
            ModelCallRule("GET", "/v1/responses", WireFormat.OPENAI_RESPONSES, WS_UPGRADE),
            ModelCallRule("GET", "/backend-api/codex/responses", WireFormat.OPENAI_RESPONSES, WS_UPGRADE),
            post("/v1/chat/completions", WireFormat.OPENAI_CHAT),
        ),
        user_agents=("codex_cli_rs", "codex_exec", "codex-tui", "codex_vscode"),
    ),
    AgentSpec(
        id="copilot", name="GitHub Copilot",
        hosts=("api.githubcopilot.com", "api.individual.githubcopilot.com",
               "api.business.githubcopilot.com", "api.enterprise.githubcopilot.com",
               "copilot-proxy.githubusercontent.com"),
        wire_formats=(WireFormat.OPENAI_CHAT, WireFormat.ANTHROPIC, WireFormat.OPENAI_RESPONSES), routable=True,
        env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(
            post("/chat/completions", WireFormat.OPENAI_CHAT), post("/v1/chat/completions", WireFormat.OPENAI_CHAT),
            post("/v1/messages", WireFormat.ANTHROPIC),
            post("/responses", WireFormat.OPENAI_RESPONSES), post("/v1/responses", WireFormat.OPENAI_RESPONSES),
        ),
        user_agents=("GithubCopilot", "GitHubCopilotChat", "copilot/"),
    ),
    AgentSpec(
        id="antigravity", name="Antigravity",
        hosts=("cloudcode-pa.googleapis.com", "daily-cloudcode-pa.googleapis.com"),
        wire_formats=(WireFormat.GEMINI_CLOUDCODE,), routable=True,
        env=(NODE_EXTRA_CA_CERTS, SSL_CERT_FILE),
        model_calls=(
            post("/v1internal:generateContent", WireFormat.GEMINI_CLOUDCODE),
            post("/v1internal:streamGenerateContent", WireFormat.GEMINI_CLOUDCODE),
        ),
        user_agents=("antigravity",),
    ),
    AgentSpec(
        id="kiro", name="Kiro",
        hosts=("q.us-east-1.amazonaws.com", "codewhisperer.us-east-1.amazonaws.com",
               "prod.kiro.aws", "api.anthropic.com"),
        wire_formats=(WireFormat.KIRO, WireFormat.ANTHROPIC), routable=True, env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(
            post("*/generateAssistantResponse", WireFormat.KIRO),
            ModelCallRule("POST", "*", WireFormat.KIRO, ("x-amz-target", "*GenerateAssistantResponse")),
            post("/v1/messages", WireFormat.ANTHROPIC),
        ),
        user_agents=("KiroIDE", "Kiro/", "kiro-"),
    ),
    AgentSpec(
        id="zed", name="Zed", hosts=("api.zed.dev", "llm.zed.dev", "cloud.zed.dev"),
        wire_formats=(WireFormat.ZED, WireFormat.ANTHROPIC, WireFormat.OPENAI_CHAT, WireFormat.OPENAI_RESPONSES, WireFormat.GEMINI), routable=True,
        env=(SSL_CERT_FILE,),
        model_calls=(
            post("/completions", WireFormat.ZED), post("/completion", WireFormat.ZED),
            ModelCallRule("GET", "/completions/session", WireFormat.ZED, WS_UPGRADE),
            *GENERIC_MODEL_CALLS,
        ),
        user_agents=("Zed/",),
        limits=ZED_LIMITS,
    ),
    AgentSpec(
        id="open-code", name="OpenCode", hosts=("opencode.ai", "openrouter.ai"),
        wire_formats=(WireFormat.OPENAI_CHAT, WireFormat.ANTHROPIC, WireFormat.OPENAI_RESPONSES), routable=True,
        env=(NODE_EXTRA_CA_CERTS, SSL_CERT_FILE), model_calls=GENERIC_MODEL_CALLS,
        user_agents=("opencode",),
    ),
    AgentSpec(
        # API-key mode calls the Gemini API; Google-login mode calls Code Assist, a host it
        # shares with Antigravity (told apart by the User-Agent, `GeminiCLI/<version>/<model>`).
        id="gemini-cli", name="Gemini CLI",
        hosts=("generativelanguage.googleapis.com", "cloudcode-pa.googleapis.com"),
        wire_formats=(WireFormat.GEMINI, WireFormat.GEMINI_CLOUDCODE), routable=True,
        env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(
            post("*/models/*:generateContent", WireFormat.GEMINI),
            post("*/models/*:streamGenerateContent", WireFormat.GEMINI),
            post("/v1internal:generateContent", WireFormat.GEMINI_CLOUDCODE),
            post("/v1internal:streamGenerateContent", WireFormat.GEMINI_CLOUDCODE),
        ),
        user_agents=("GeminiCLI",),
        limits=GEMINI_CLI_LIMITS,
    ),
    AgentSpec(
        # Qwen Code calls whichever provider it is configured for, in that provider's format;
        # the hosts are its defaults (Qwen OAuth, DashScope, OpenAI, OpenRouter). Where it shares
        # a host (api.openai.com with Codex, openrouter.ai with OpenCode) its User-Agent,
        # `QwenCode/<version>`, names it; on any other host too.
        id="qwen-code", name="Qwen Code",
        hosts=("portal.qwen.ai", "dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com",
               "api.openai.com", "openrouter.ai"),
        wire_formats=(WireFormat.OPENAI_CHAT, WireFormat.OPENAI_RESPONSES, WireFormat.ANTHROPIC, WireFormat.GEMINI),
        routable=True, env=(NODE_EXTRA_CA_CERTS,), model_calls=GENERIC_MODEL_CALLS,
        user_agents=("QwenCode",),
    ),
    AgentSpec(
        id="cursor", name="Cursor", hosts=("api2.cursor.sh", "api3.cursor.sh"),
        wire_formats=(WireFormat.CONNECT_PROTO,), routable=False,
        reason=("Cursor speaks Connect/gRPC protobuf with an undocumented schema: its calls are "
                "captured and passed through to Cursor unchanged, never rerouted."),
        env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(post("/aiserver.v1.ChatService/*", WireFormat.CONNECT_PROTO),),
        user_agents=("Cursor/",),
    ),
    AgentSpec(
        id="trae", name="Trae", hosts=(), wire_formats=(), routable=False,
        reason=("Trae's protocol is not documented: its calls are captured and passed through "
                "unchanged, never rerouted. Add its hosts once seen in captures."),
        env=(NODE_EXTRA_CA_CERTS,), user_agents=("Trae/", "TraeAI"),
    ),
)

# Agents met only through their own settings (OmniRoute as their base URL, `omniroute.clitools`):
# no hosts to intercept, so they are identified by the per-tool API key their settings carry,
# or by their User-Agent.
DIRECT_AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(id="droid", name="Droid", hosts=(), wire_formats=(WireFormat.OPENAI_CHAT,), routable=True),
)
