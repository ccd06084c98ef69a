package io.metastream.streams;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;

/** A briefly meta-trained sinusoid base, enough to exercise the pipeline (not to score it). */
public final class TestModels {
    private static BaseModel quick;

    private TestModels() {
    }

    public static synchronized BaseModel quickSinusoidBase() {
        if (quick == null) {
            DjlRuntime.start(1);
            MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(100);
            float[] p = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                    .train(new SinusoidTasks(), plan, (d, t, l) -> { }).parameters();
            quick = new BaseModel("sinusoid@test", "reptile", plan.architecture(), p, plan.adaptation());
        }
        return quick;
    }

    public static ActiveModel activeQuickBase() {
        return new ActiveModel(quickSinusoidBase(), "cpu");
    }
}
