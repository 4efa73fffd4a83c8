#!/bin/sh
# Pull the Ollama models the API will use (compose service `ollama-init`, a one-shot step the API
# waits for). The settings decide which models are needed, as in the API's bootstrap: in the stack
# OLLAMA_URL is set, so EMBEDDING_BACKEND=auto uses Ollama for embeddings and GENERATOR_BACKEND=auto
# uses it for answers.
#   OLLAMA_HOST         the server, e.g. http://ollama:11434 (read by the ollama CLI)
#   OLLAMA_EMBED_MODEL  pulled unless EMBEDDING_BACKEND=local
#   OLLAMA_CHAT_MODEL   pulled unless GENERATOR_BACKEND is extractive or openai
# Pulling a model that is already there only checks it. Exits non-zero when a pull fails, so the API
# does not start without its models.
set -eu

pull() {
    if [ -z "$1" ]; then
        echo "ollama-init: $2 is empty in .env" >&2
        exit 1
    fi
    echo "ollama-init: pulling $1 ($2) from ${OLLAMA_HOST:-the local server}"
    ollama pull "$1"
}

case "${EMBEDDING_BACKEND:-auto}" in
    local) echo "ollama-init: EMBEDDING_BACKEND=local, no embedding model to pull" ;;
    *) pull "${OLLAMA_EMBED_MODEL:-}" OLLAMA_EMBED_MODEL ;;
esac

case "${GENERATOR_BACKEND:-auto}" in
    extractive | openai) echo "ollama-init: GENERATOR_BACKEND=${GENERATOR_BACKEND}, no chat model to pull" ;;
    *) pull "${OLLAMA_CHAT_MODEL:-}" OLLAMA_CHAT_MODEL ;;
esac

echo "ollama-init: models ready"
ollama list
