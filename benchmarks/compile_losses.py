"""An experiment for the CPU speed issue: does torch.compile pay when it compiles only the losses?

    python benchmarks/compile_losses.py                 # 5 interleaved repeats, torch's default threads

``compile_update=True`` compiles SoftAC's whole gradient step, which Dynamo splits at the optimizers'
``zero_grad`` and at the ``requires_grad`` switches of ``frozen``; on CPU it was 25% slower than eager.
Here a pure function computes the three losses of one default update on a SoftAC model's own networks
(the critics' weights are detached for the actor loss with ``torch.func.functional_call`` instead of
frozen), so ``torch.compile(fullgraph=True)`` takes it as one graph and AOTAutograd compiles its
backward too; the optimizers step eagerly. It times, as updates/s in interleaved repeats: that
function eager, compiled, and SoftAC's own ``train()`` on the same model and buffer.

The losses are written out here only to time them; SoftAC's update is ``SoftAC._gradient_step``.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch as th
from matmul_shapes import model_on_random_transitions  # benchmarks/ is sys.path[0] when this runs as a script

from sb3_softac import SoftAC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default: 5)")
    parser.add_argument("--steps", type=int, default=200, help="timed updates per repeat (default: 200)")
    args = parser.parse_args()
    model = model_on_random_transitions(SoftAC, obs=17, act=6)
    actor, critic, target = model.actor, model.critic, model.critic_target
    assert target is not None and model.log_ent_coef is not None and model.ent_coef_optimizer is not None
    optimizers = [actor.optimizer, critic.optimizer, model.ent_coef_optimizer]

    def losses(obs: th.Tensor, actions: th.Tensor, rewards: th.Tensor, next_obs: th.Tensor, dones: th.Tensor) -> th.Tensor:
        log_alpha = model.log_ent_coef
        alpha = log_alpha.detach().exp()  # type: ignore[union-attr]
        actions_pi, log_prob = actor.action_log_prob(obs)
        log_prob = log_prob.reshape(-1, 1)
        with th.no_grad():
            next_actions, next_log_prob = actor.action_log_prob(next_obs)
            next_q = target.q_values(next_obs, next_actions).min(dim=0).values
            target_q = rewards + (1.0 - dones) * model.gamma * (next_q - alpha * next_log_prob.reshape(-1, 1))
        critic_loss = 0.5 * (critic.q_values(obs, actions) - target_q).pow(2).mean(dim=(1, 2)).sum()
        detached = {name: parameter.detach() for name, parameter in critic.named_parameters()}
        q_pi = th.stack(th.func.functional_call(critic, detached, (obs, actions_pi))).min(dim=0).values
        actor_loss = (alpha * log_prob - q_pi).mean()
        temperature_loss = -(log_alpha * (log_prob.detach() + model.target_entropy)).mean()  # type: ignore[operator]
        return critic_loss + actor_loss + temperature_loss

    def update(loss_function: Callable[..., th.Tensor]) -> None:
        data = model.replay_buffer.sample(256)  # type: ignore[union-attr]
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss_function(data.observations, data.actions, data.rewards, data.next_observations, data.dones).backward()
        for optimizer in optimizers:
            optimizer.step()
        with th.no_grad():
            th._foreach_lerp_(list(target.parameters()), list(critic.parameters()), model.tau)

    compiled = th.compile(losses, fullgraph=True)
    start = time.perf_counter()
    update(compiled)
    print(f"torch {th.__version__}, {th.get_num_threads()} threads; compiling took {time.perf_counter() - start:.1f} s")
    learners: dict[str, Callable[[], None]] = {
        "losses, eager": lambda: update(losses),
        "losses, compiled": lambda: update(compiled),
        "SoftAC train()": lambda: model.train(gradient_steps=1, batch_size=256),
    }
    rates: dict[str, list[float]] = {name: [] for name in learners}
    for _ in range(args.repeats):
        for name, step in learners.items():
            for _ in range(10):
                step()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps / (time.perf_counter() - start))
    for name, values in rates.items():
        print(f"{name:18s} median {statistics.median(values):7.1f} updates/s (min {min(values):.1f}, max {max(values):.1f})")
    eager, compiled_rate = (statistics.median(rates[name]) for name in ("losses, eager", "losses, compiled"))
    print(f"ratio compiled / eager losses: {compiled_rate / eager:.2f}x")
    print(f"ratio compiled losses / SoftAC train(): {compiled_rate / statistics.median(rates['SoftAC train()']):.2f}x")


if __name__ == "__main__":
    main()
