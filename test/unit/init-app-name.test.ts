// `hoist init` names the app after its repository by default (several apps share one VPS, and
// the name keeps their folders, containers, ports and jobs apart), always as APP_NAME accepts it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appNameFromRepo } from '../../lib/cli/init.ts';

test('the repository name, made into a valid APP_NAME', () => {
  for (const [repo, name] of [
    ['git@github.com:acme/sentiment-api.git', 'sentiment-api'],
    ['git@github.com:acme/Sentiment.API.git', 'sentiment-api'],
    ['ssh://git@git.example.com:2222/team/ml/churn_model.git', 'churn_model'],
    ['git@github.com:acme/--weird--.git', undefined],
    ['git@github.com:acme/_x_.git', 'x'],
    ['not a url', undefined],
    [undefined, undefined],
  ] as const) {
    assert.is(appNameFromRepo(repo), name, String(repo));
  }
});

test.run();
