import { CHAT_PASSED_PARAMS, readChatMessages } from '@conveyor/shared';
import { z } from 'zod';
import type { Model } from '../model.js';
import { postToEndpoint, type Endpoint } from './endpoint.js';
import { pickParams } from './request-params.js';

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
    const conversation = readChatMessages(request);
    const answer = await postToEndpoint(
      endpoint,
      {
        path: '/chat/completions',
        body: { model: request.model, messages: conversation, ...pickParams(request.params ?? {}, CHAT_PASSED_PARAMS), stream: false },
        answer: chatCompletion,
        answerName: 'a chat completion',
      },
      helpers,
    );
    const [choice] = answer.choices;
    return { model: request.model, text: choice!.message.content, finish_reason: choice!.finish_reason ?? null, usage: answer.usage ?? null };
  };
}
