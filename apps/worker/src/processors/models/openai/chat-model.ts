import { z } from 'zod';
import { NonRetryableError } from '../../non-retryable-error.js';
import type { Model } from '../model.js';
import { postToEndpoint, type Endpoint } from './endpoint.js';
import { pickParams, readParam } from './request-params.js';

/** Sampling and format params passed on to the endpoint; any others are dropped. */
const passedParams = ['temperature', 'top_p', 'max_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'response_format'] as const;

const messages = z
  .array(z.looseObject({ role: z.string().min(1), content: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))]) }))
  .min(1)
  .optional();

const chatCompletion = z.object({
  choices: z
    .array(
      z.object({
        // null when the model answered with a refusal or tool calls instead of text.
        message: z.object({ content: z.string().nullable() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: z.record(z.string(), z.unknown()).nullable().optional(),
});

/**
 * A chat model at the endpoint's /chat/completions. It sends `params.messages` as given or,
 * without them, the prompt as the user's message after `params.system` if there is one.
 */
export function createChatModel(endpoint: Endpoint): Model {
  return async (request, helpers) => {
    const params = request.params ?? {};
    const conversation = readParam(params, 'messages', messages, 'a non-empty array of {role, content}') ?? promptMessages(request.prompt, params);
    const answer = await postToEndpoint(
      endpoint,
      {
        path: '/chat/completions',
        body: { model: request.model, messages: conversation, ...pickParams(params, passedParams), stream: false },
        answer: chatCompletion,
        answerName: 'a chat completion',
      },
      helpers,
    );
    const [choice] = answer.choices;
    return { model: request.model, text: choice!.message.content, finish_reason: choice!.finish_reason ?? null, usage: answer.usage ?? null };
  };
}

function promptMessages(prompt: string | undefined, params: Record<string, unknown>): { role: string; content: string }[] {
  if (!prompt) throw new NonRetryableError('a chat model needs a prompt or params.messages', 'INVALID_PARAMS');
  const system = readParam(params, 'system', z.string().optional(), 'a string');
  return [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: prompt }];
}
