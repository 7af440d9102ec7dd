//! A round's model calls: who made each one, its number among that role's calls this round,
//! the request seed derived from both, and the exchange it left. Replay finds a recorded reply
//! by (round, role, number), so the numbers are given here, in one place, never at a call site.

use std::collections::BTreeMap;

use super::client::Message;
use super::model::{CallKey, ChatModel, ChatResult, EmbedModel, EmbedResult, Exchange, ReplayError};
use super::role::CallRole;
use crate::seeds::call_seed;

/// The calls of one round, numbered per role from 0 in the order they are made.
#[derive(Debug)]
pub struct CallLog {
    campaign_seed: u64,
    round: u64,
    made: BTreeMap<CallRole, u32>,
    exchanges: Vec<Exchange>,
}

impl CallLog {
    pub fn new(campaign_seed: u64, round: u64) -> Self {
        Self { campaign_seed, round, made: BTreeMap::new(), exchanges: Vec::new() }
    }

    pub fn round(&self) -> u64 {
        self.round
    }

    /// The key of `role`'s next call; failed calls count too, so a retry is always call 1.
    fn next_key(&mut self, role: CallRole) -> CallKey {
        let made = self.made.entry(role).or_insert(0);
        let key = CallKey { round: self.round, role, seq: *made };
        *made += 1;
        key
    }

    /// One chat call by `role`, recorded whether or not the model answered.
    pub fn chat(
        &mut self,
        model: &dyn ChatModel,
        role: CallRole,
        messages: &[Message],
    ) -> Result<ChatResult, ReplayError> {
        let key = self.next_key(role);
        let seed = call_seed(self.campaign_seed, key.round, key.role.as_str(), key.seq);
        let (result, exchange) = model.chat(key, messages, seed)?;
        self.exchanges.push(exchange);
        Ok(result)
    }

    /// One embedding call (role `embedding`), recorded likewise.
    pub fn embed(&mut self, model: &dyn EmbedModel, texts: &[String]) -> Result<EmbedResult, ReplayError> {
        let key = self.next_key(CallRole::Embedding);
        let (result, exchange) = model.embed(key, texts)?;
        self.exchanges.push(exchange);
        Ok(result)
    }

    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    pub fn into_exchanges(self) -> Vec<Exchange> {
        self.exchanges
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::llm::client::{Reply, Usage};

    /// Answers every call and remembers the key and seed it was asked with.
    #[derive(Default)]
    struct Echo {
        asked: Mutex<Vec<(CallKey, Option<u64>)>>,
    }

    fn record(key: CallKey) -> Exchange {
        Exchange {
            round: key.round,
            role: key.role.as_str().to_owned(),
            seq: key.seq,
            endpoint: "echo".into(),
            prompt: String::new(),
            request: String::new(),
            reply: Some(String::new()),
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: None,
            latency_s: 0.0,
            attempts: 1,
            attempt_log: "[]".into(),
            error: None,
        }
    }

    impl ChatModel for Echo {
        fn label(&self) -> String {
            "echo".into()
        }

        fn chat(&self, key: CallKey, _: &[Message], seed: u64) -> Result<(ChatResult, Exchange), ReplayError> {
            self.asked.lock().unwrap().push((key, Some(seed)));
            let reply = Reply { content: String::new(), usage: Usage::default(), finish_reason: None };
            Ok((Ok(reply), record(key)))
        }
    }

    impl EmbedModel for Echo {
        fn label(&self) -> String {
            "echo".into()
        }

        fn embed(&self, key: CallKey, _: &[String]) -> Result<(EmbedResult, Exchange), ReplayError> {
            self.asked.lock().unwrap().push((key, None));
            Ok((Ok(vec![]), record(key)))
        }
    }

    /// The numbers and seeds each call site used to pick by hand (researcher 0 then 1 for the
    /// follow-up, debug numbered by attempt, judge, analyzer and embedding 0), with the seeds
    /// the earlier `call_seed(42, CallKey { round: 7, role: "…", seq })` gave: recordings made
    /// before the log replay only if these stay equal.
    #[test]
    fn numbers_and_seeds_are_the_hand_picked_ones_recordings_carry() {
        let model = Echo::default();
        let mut log = CallLog::new(42, 7);
        log.embed(&model, &["query".into()]).unwrap().unwrap();
        log.chat(&model, CallRole::Researcher, &[]).unwrap().unwrap();
        log.chat(&model, CallRole::Researcher, &[]).unwrap().unwrap();
        log.chat(&model, CallRole::Debug, &[]).unwrap().unwrap();
        log.chat(&model, CallRole::Debug, &[]).unwrap().unwrap();
        log.chat(&model, CallRole::Judge, &[]).unwrap().unwrap();
        log.chat(&model, CallRole::Analyzer, &[]).unwrap().unwrap();
        let expected: [(&str, u32, Option<u64>); 7] = [
            ("embedding", 0, None),
            ("researcher", 0, Some(8_211_158_124_542_406_276)),
            ("researcher", 1, Some(1_443_553_744_413_832_374)),
            ("debug", 0, Some(6_866_367_609_488_994_630)),
            ("debug", 1, Some(2_749_996_257_893_933_855)),
            ("judge", 0, Some(5_362_960_239_122_245_057)),
            ("analyzer", 0, Some(4_810_225_290_764_801_400)),
        ];
        let asked = model.asked.into_inner().unwrap();
        let got: Vec<(&str, u32, Option<u64>)> = asked.iter().map(|(k, s)| (k.role.as_str(), k.seq, *s)).collect();
        assert_eq!(got, expected);
        assert!(asked.iter().all(|(k, _)| k.round == 7));
        let stored: Vec<(u64, &str, u32)> = log.exchanges().iter().map(|e| (e.round, e.role.as_str(), e.seq)).collect();
        assert_eq!(stored, expected.map(|(role, seq, _)| (7, role, seq)));
    }

    #[test]
    fn a_role_is_numbered_alone_whatever_the_others_do() {
        let model = Echo::default();
        let mut a = CallLog::new(1, 3);
        a.chat(&model, CallRole::Debug, &[]).unwrap().unwrap();
        let mut b = CallLog::new(1, 3);
        b.chat(&model, CallRole::Researcher, &[]).unwrap().unwrap();
        b.embed(&model, &[]).unwrap().unwrap();
        b.chat(&model, CallRole::Debug, &[]).unwrap().unwrap();
        let asked = model.asked.into_inner().unwrap();
        assert_eq!(asked[0], asked[3], "debug's first call is the same key and seed either way");
    }
}
